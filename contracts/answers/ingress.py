"""Answers of the ingress API that the console reads: delivery history, webhook health."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

Outcome = Literal[
    "accepted",  # handled; its records (if any) are on the canonical topic
    "ignored",  # handled; the handler chose not to ingest (unknown event type)
    "duplicate",  # handled; every record it produced had been ingested before
    "held",  # installation disabled; processed in order when it is enabled again
    "rejected",  # signature failed (401)
    "malformed",  # not valid JSON (400)
    "handler_failed",  # the handler errored, timed out or was denied (500; provider retries)
    "unavailable",  # Kafka or Redis unreachable (503; provider retries)
    "gone",  # installation uninstalled (410)
]


class DeliverySummary(msgspec.Struct, frozen=True, kw_only=True):
    """One delivery as history shows it; `partition`/`offset` locate its raw body on Kafka."""

    delivery_id: str
    installation_id: str
    received_at: float
    status: int
    outcome: Outcome
    reason: str | None = None
    event_type: str | None = None
    event_id: str | None = None
    duplicate: bool = False
    records: int = 0
    duplicates: int = 0
    version_id: str | None = None
    observation_version_id: str | None = None
    secret_revision: int | None = None
    partition: int | None = None
    offset: int | None = None
    processed_at: float | None = None


class DeliveryPage(msgspec.Struct, frozen=True, kw_only=True):
    """Newest first; pass `next_before` as `before` for the next page."""

    deliveries: list[DeliverySummary]
    next_before: float | None = None


class WebhookHealth(msgspec.Struct, frozen=True, kw_only=True):
    """Delivery health of one installation's webhook URL, over all ingress replicas."""

    installation_id: str
    deliveries_per_minute: float
    last_hour: int
    total: int
    status_2xx: int
    status_4xx: int
    status_5xx: int
    last_delivery_at: float | None = None
    last_success_at: float | None = None
    last_failure_at: float | None = None
    last_failure_reason: str | None = None


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
