"""Kafka in: every topic the logs service reads, each batch stored in one insert.

Commit behaviour: a batch's offsets are committed only after its handler returned, i.e.
after the insert finished (`Consumers.subscribe_batch`). A crash in between redelivers
the batch; the tables read with FINAL, so redelivered rows count once.
The live tail is fed from memory: by the storing consumer right after each insert, or (with
`LOGS_TAIL_OWN_GROUP`, for several replicas) by a consumer group of its own per process,
starting at the newest offset, so every replica's tails see every line.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from contracts.audit import AuditEvent
from contracts.health import WebhookHealthWindow
from contracts.logs import ExtensionLogLine
from contracts.records import CanonicalRecord, ObservedRecord
from contracts.secret_reads import SecretRead
from contracts.streams import StreamStatus
from services.base.snapshots import SnapshotView
from services.logs.service.alerts.rules import AlertRules
from services.logs.service.logs import LogsService
from services.logs.service.tail import TailHub
from services.logs.store.records import RecordStore


def log_lines_handler(service: LogsService) -> Callable[[list[ExtensionLogLine]], Awaitable[None]]:
    """Store a batch of lines (one insert); alert rules see it after it is stored."""

    async def on_log_lines(lines: list[ExtensionLogLine]) -> None:
        await service.ingest_lines(lines)

    return on_log_lines


def tail_handler(hub: TailHub) -> Callable[[list[ExtensionLogLine]], Awaitable[None]]:
    """Fan a batch out to the open tails, in memory; nothing to commit that matters."""

    async def on_tail_lines(lines: list[ExtensionLogLine]) -> None:
        hub.publish(lines)

    return on_tail_lines


def audit_handler(service: LogsService) -> Callable[[list[AuditEvent]], Awaitable[None]]:
    """Store audit events; idempotent by event id."""

    async def on_audit_events(events: list[AuditEvent]) -> None:
        await service.record_audit(events)

    return on_audit_events


def stream_status_handler(
    service: LogsService, rules: AlertRules
) -> Callable[[list[StreamStatus]], Awaitable[None]]:
    """Store stream statuses (newest per stream wins), then evaluate stream alert rules."""

    async def on_stream_status(statuses: list[StreamStatus]) -> None:
        await service.health.add_statuses(statuses)
        await rules.on_stream_statuses(statuses)

    return on_stream_status


def webhook_health_handler(
    service: LogsService, rules: AlertRules
) -> Callable[[list[WebhookHealthWindow]], Awaitable[None]]:
    """Store webhook windows, then evaluate 5xx-rate rules."""

    async def on_webhook_health(windows: list[WebhookHealthWindow]) -> None:
        await service.health.add_windows(windows)
        await rules.on_webhook_windows(windows)

    return on_webhook_health


def secret_reads_handler(service: LogsService) -> Callable[[list[SecretRead]], Awaitable[None]]:
    """Store secret reads (names only, never values)."""

    async def on_secret_reads(reads: list[SecretRead]) -> None:
        await service.secret_reads.add_many(reads)

    return on_secret_reads


def canonical_handler(
    records: RecordStore, view: SnapshotView
) -> Callable[[list[CanonicalRecord]], Awaitable[None]]:
    """Keep canonical records only of installations under observation (the report's other
    side); everything else is skipped, so the store does not mirror the whole topic.

    The view is every installation's latest snapshot, read from the start of the snapshot
    topic by this process (services.base.snapshots.Follower): a batch waits until it is
    ready, so a restarted replica never drops records of an installation it has not read yet."""

    async def on_canonical(batch: list[CanonicalRecord]) -> None:
        await view.wait_ready()
        kept = [r for r in batch if _observed(view, r.installation_id)]
        await records.add_many("canonical", kept)

    return on_canonical


def observed_handler(records: RecordStore) -> Callable[[list[ObservedRecord]], Awaitable[None]]:
    """Keep every would-write of observation and draft versions."""

    async def on_observed(batch: list[ObservedRecord]) -> None:
        await records.add_many("observed", batch)

    return on_observed


def _observed(view: SnapshotView, installation_id: str) -> bool:
    snapshot = view.get(installation_id)
    return snapshot is not None and snapshot.observation is not None
