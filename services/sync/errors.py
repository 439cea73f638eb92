"""Errors of the sync service, each carrying its HTTP status (see services/base/errors.py)."""

from __future__ import annotations

from services.base.errors import NotFound


class StreamNotFound(NotFound):
    """No such stream or job on an installation of the caller's workspace."""


class CursorEntryNotFound(NotFound):
    """The cursor history of the stream has no such entry (it may have been trimmed)."""
