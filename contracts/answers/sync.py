"""Answers of the sync API that the console reads: stream statuses and cursor history."""

from __future__ import annotations

from typing import Literal

import msgspec

from contracts.streams import StreamStatus


class CursorEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One committed cursor: where a run (or an admin's reset/restore) left a stream."""

    entry_id: str
    action: Literal["run", "reset", "restore"]
    run_id: str | None = None
    at: float
    cursor: str | None = None
    pages: int = 0
    records: int = 0
    actor: str | None = None


class CursorHistory(msgspec.Struct, frozen=True, kw_only=True):
    """`GET .../streams/{stream}/cursors`: newest first."""

    installation_id: str
    stream: str
    current: str | None
    entries: list[CursorEntry]


class StreamList(msgspec.Struct, frozen=True, kw_only=True):
    """`GET /v1/installations/{id}/streams`: every stream and job of the installation."""

    installation_id: str
    streams: list[StreamStatus]
