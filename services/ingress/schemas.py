"""HTTP shapes of the ingress API (history, replay, health), as msgspec Structs."""

from __future__ import annotations

import msgspec

# Answers another service reads are declared once, in contracts.answers (re-exported here).
from contracts.answers.ingress import (  # noqa: F401
    DeliveryPage,
    DeliverySummary,
    Outcome,
    RecordResult,
    ReplayBatch,
    ReplayResult,
    WebhookHealth,
)


class ReplayRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Replay through the active version (default) or a chosen one, which then runs observed."""

    version_id: str | None = None


class RangeReplayRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Replay every stored delivery received in [since, until), oldest first."""

    since: float
    until: float | None = None
    version_id: str | None = None
    limit: int = 100


class WebhookEndpoint(msgspec.Struct, frozen=True, kw_only=True):
    """The installation's webhook URL as this ingress replica currently serves it."""

    installation_id: str
    hook_id: str | None
    path: str | None
    state: str
    revision: int
    auth: str | None
    version_id: str | None
    observation_version_id: str | None
