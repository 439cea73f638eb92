"""The history entry of a delivery, for each way processing it can end."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import msgspec

from contracts.deliveries import DeliveryReceived
from contracts.installations import VersionRef
from contracts.records import CanonicalRecord
from runtime.interface import InvocationResult
from services.base.dedupe import Claims
from services.ingress.events import Event, event_id, event_type
from services.ingress.schemas import DeliverySummary, Outcome


@dataclass
class Handled:
    """What running a delivery's handler and ingesting its emissions did."""

    result: InvocationResult
    outcome: Outcome
    status: int
    body: bytes
    claims: Claims | None = None
    records: list[CanonicalRecord] = field(default_factory=list)
    partition: int | None = None
    offset: int | None = None


def processed(
    delivery: DeliveryReceived, event: Event, version: VersionRef, handled: Handled
) -> DeliverySummary:
    """A live delivery the handler ran for (whatever its outcome)."""
    arrived = DeliverySummary(
        delivery_id=delivery.delivery_id,
        installation_id=delivery.installation_id,
        received_at=delivery.received_at,
        status=handled.status,
        outcome=handled.outcome,
        event_type=event_type(event, delivery.headers),
        event_id=event_id(event, delivery.headers),
        secret_revision=delivery.secret_revision,
        partition=handled.partition,
        offset=handled.offset,
    )
    return released(arrived, version, handled)


def released(stored: DeliverySummary, version: VersionRef, handled: Handled) -> DeliverySummary:
    """`stored` (a held delivery's entry, or a live one's arrival) once the handler ran."""
    return msgspec.structs.replace(
        stored,
        status=handled.status,
        outcome=handled.outcome,
        duplicate=handled.outcome == "duplicate",
        records=len(handled.records),
        duplicates=len(handled.claims.duplicates) if handled.claims else 0,
        version_id=version.version_id,
        reason=handled.result.error,
        processed_at=time.time(),
    )


def unanswered(
    delivery: DeliveryReceived, event: Event, version: VersionRef, dependency: str
) -> DeliverySummary:
    """A delivery answered 503 (nothing promised; the provider retries)."""
    return DeliverySummary(
        delivery_id=delivery.delivery_id,
        installation_id=delivery.installation_id,
        received_at=delivery.received_at,
        status=503,
        outcome="unavailable",
        reason=dependency,
        event_type=event_type(event, delivery.headers),
        event_id=event_id(event, delivery.headers),
        version_id=version.version_id,
    )
