"""HTTP shapes of the ingress API (history, replay, health), as msgspec Structs."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

# Answers another service reads are declared once, in contracts.answers (re-exported here).
from contracts.answers.ingress import (  # noqa: F401
    DeliveryPage,
    DeliverySummary,
    Outcome,
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


class RecordResult(msgspec.Struct, frozen=True, kw_only=True):
    """One record a replay produced: published, or a duplicate of one ingested before."""

    idempotency_key: str
    canonical_type: str
    duplicate: bool


class ReplayResult(msgspec.Struct, frozen=True, kw_only=True):
    """What replaying one delivery did."""

    delivery_id: str
    version_id: str | None
    mode: Literal["active", "observe"]
    signature: Literal["valid", "invalid", "not_required"]
    reason: str | None = None
    outcome: str
    status: int | None = None
    response: Any = None
    records: list[RecordResult] = []
    observed: int = 0


class ReplayBatch(msgspec.Struct, frozen=True, kw_only=True):
    """Results of a range replay, oldest first."""

    results: list[ReplayResult]


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
