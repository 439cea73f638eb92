"""Per-stream sync status: the Connection tab's view of each polled stream."""

from __future__ import annotations

from typing import Literal

from contracts.base import Message

# `backing_off` was added before any consumer read this topic (sync never produced it before).
StreamState = Literal["idle", "running", "ok", "error", "backing_off", "needs_reauth", "disabled"]
ScheduledKind = Literal["stream", "job"]


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
    # Added compatibly (defaults) when the scheduler landed.
    kind: ScheduledKind = "stream"
    version_id: str | None = None
    mode: Literal["active", "observe", "draft"] = "active"
    run_id: str | None = None
    next_run_at: float | None = None
    consecutive_failures: int = 0
    pages_last_run: int = 0
    last_error_at: float | None = None
    # Records a poll found that the webhook path had not delivered within the gap window:
    # webhooks silently failing upstream (only for connectors with both paths for a type).
    webhook_gap: int = 0
