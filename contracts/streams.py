"""Per-stream sync status: the Connection tab's view of each polled stream."""

from __future__ import annotations

from typing import Literal

from contracts.base import Message

StreamState = Literal["idle", "running", "ok", "error", "needs_reauth", "disabled"]


class StreamStatus(Message, frozen=True, kw_only=True):
    """Latest status of one stream of one installation (compacted by installation and stream)."""

    workspace_id: str
    installation_id: str
    extension_key: str
    stream: str
    state: StreamState
    cursor: str | None = None
    last_run_at: float | None = None
    last_success_at: float | None = None
    records_last_run: int = 0
    records_total: int = 0
    error_count: int = 0
    last_error: str | None = None
    at: float
