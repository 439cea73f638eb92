"""HTTP shapes of the sync service: stream status, cursor history, run requests, test-connection."""

from __future__ import annotations

from typing import Any, Literal

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


class DryRunRequest(msgspec.Struct, frozen=True, kw_only=True):
    """Run a `backfill dev` draft's stream or job now: `session` is the dev session id."""

    session: str
    cursor: str | None = None  # where to start (None: from the beginning)
    pages: int = msgspec.field(default=1)


class DryRunRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One record the draft would have written (intercepted, never committed)."""

    canonical_type: str
    idempotency_key: str
    payload: dict[str, Any]


class DryRunPage(msgspec.Struct, frozen=True, kw_only=True):
    """One invocation of the draft's entry point."""

    cursor: str | None
    next_cursor: str | None
    has_more: bool
    outcome: str
    error: str | None = None
    records: list[DryRunRecord] = []


class DryRun(msgspec.Struct, frozen=True, kw_only=True):
    """What a draft's stream or job did, page by page; no cursor moved, nothing written."""

    installation_id: str
    name: str
    kind: Literal["stream", "job"]
    version_id: str
    pages: list[DryRunPage]
