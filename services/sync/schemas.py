"""HTTP shapes of the sync service: stream status, cursor history, run requests, test-connection."""

from __future__ import annotations

from typing import Any

import msgspec

# Answers another service reads are declared once, in contracts.answers (re-exported here).
from contracts.answers.sync import CursorEntry, CursorHistory, StreamList  # noqa: F401
from contracts.installations import InstallationSnapshot, VersionRef


class ConnectionTestRequest(msgspec.Struct, frozen=True, kw_only=True):
    """Run a connector's `test_connection` with unsaved settings and plaintext secrets."""

    installation: InstallationSnapshot
    version: VersionRef
    settings: dict[str, Any] = {}
    secrets: dict[str, str] = {}


class ConnectionVerdict(msgspec.Struct, frozen=True, kw_only=True):
    """Whether the credentials work, and a message for the admin."""

    ok: bool
    message: str


class RunRequest(msgspec.Struct, frozen=True, kw_only=True):
    """Optional body of `POST .../run`: `full` drops the cursor first (a full resync)."""

    full: bool = False


class RunAccepted(msgspec.Struct, frozen=True, kw_only=True):
    """A run was requested; the replica that owns the installation starts it within a tick."""

    installation_id: str
    stream: str
    requested_at: float
    full: bool = False


class CursorChanged(msgspec.Struct, frozen=True, kw_only=True):
    """A reset or restore took effect: the next run starts from `cursor` (None: the start)."""

    installation_id: str
    stream: str
    cursor: str | None
    entry: CursorEntry
