"""The logs composition root: the only place that reads settings and builds clients."""

from __future__ import annotations

import uuid

import httpx
from litestar import Litestar
from litestar.di import Provide

from contracts.topics import (
    AUDIT_EVENTS,
    CANONICAL_RECORDS,
    EXTENSION_LOGS,
    INSTALLATION_SNAPSHOTS,
    OBSERVED_RECORDS,
    SECRET_READS,
    STREAM_STATUS,
    WEBHOOK_HEALTH,
)
from services.base.http import build_http_app, run_service
from services.base.infrastructure import Infrastructure
from services.base.kafka import dead_letter
from services.base.secrets_crypto import Keyring
from services.base.settings import InfraSettings
from services.base.snapshots import Follower, SnapshotView
from services.logs import subscribers as on
from services.logs.routes import CONTROLLERS
from services.logs.routes.filters import provide_filters
from services.logs.service.alerts.admin import AlertAdmin
from services.logs.service.alerts.delivery import AlertSender
from services.logs.service.alerts.rules import AlertRules
from services.logs.service.logs import LogsService
from services.logs.service.observation import ObservationReports
from services.logs.service.retention import RetentionSweeper
from services.logs.service.tail import TailHub
from services.logs.settings import PREFIX, LogsSettings
from services.logs.store.activity import ActivityStore
from services.logs.store.alerts import AlertStore, queue_key
from services.logs.store.audit import AuditStore
from services.logs.store.clickhouse import ClickHouse
from services.logs.store.health import HealthStore
from services.logs.store.lines import LogLineStore
from services.logs.store.records import RecordStore
from services.logs.store.schema import log_lines_ddl
from services.logs.store.secret_reads import SecretReadStore
from services.logs.subscribers.lines import LineConsumer


def create_app(settings: LogsSettings, infra_settings: InfraSettings) -> Litestar:
    """Wire the store, subscribers, alerting and the HTTP API."""
    infra = Infrastructure.create(infra_settings, "logs")
    clickhouse = ClickHouse(
        settings.clickhouse_url,
        settings.data_dir,
        log_lines_ddl(settings.retention_days, settings.retention_days_overrides()),
    )
    lines = LogLineStore(clickhouse)
    records = RecordStore(clickhouse)
    activity = ActivityStore(clickhouse)
    view = SnapshotView()
    hub = TailHub(settings.tail_queue_size)
    logs = LogsService(
        lines=lines,
        audit=AuditStore(clickhouse),
        health=HealthStore(clickhouse),
        secret_reads=SecretReadStore(clickhouse),
        tail=hub,
        installations=view,
        default_window_s=settings.default_window_s,
        tail_heartbeat_s=settings.tail_heartbeat_s,
        feed_tail=not settings.tail_own_group,
    )
    alert_store = AlertStore(infra.redis, queue_key(settings.group_id))
    rules = AlertRules(alert_store, settings.alert_rules_cache_s)
    logs.line_observers.append(rules.on_lines)
    logs.observes_lines = rules.has_line_rules
    http = httpx.AsyncClient(timeout=settings.alert_timeout_s, follow_redirects=False)
    sender = AlertSender(
        store=alert_store,
        keyring=Keyring.parse(infra_settings.secrets_keyring)
        if infra_settings.secrets_keyring
        else None,
        http=http,
        audit=logs.record_audit,
        allow_private=settings.alert_allow_private_targets,
        retry_base_s=settings.alert_retry_base_s,
        retry_cap_s=settings.alert_retry_cap_s,
        retry_horizon_s=settings.alert_retry_horizon_s,
        poll_s=settings.alert_poll_s,
        concurrency=settings.alert_concurrency,
    )
    admin = AlertAdmin(
        store=alert_store,
        sender=sender,
        rules=rules,
        allow_private=settings.alert_allow_private_targets,
        overlap_s=settings.alert_secret_overlap_s,
    )
    sweeper = RetentionSweeper(
        lines, lambda w: settings.retention_for(w)[1], settings.retention_interval_s
    )

    # Every replica knows every installation (the observation report may be asked of any):
    # the snapshot topic is read from the start, without a consumer group.
    follower = Follower(infra_settings.kafka_bootstrap_servers, view, service="logs")
    infra.consumers.reader(INSTALLATION_SNAPSHOTS)
    infra.readiness.checks["snapshots"] = lambda: view.ready

    # Log lines: their own consumer (raw JSON to the store, reading while inserting).
    lines_group = f"{settings.group_id}.lines"
    line_consumer = LineConsumer(
        bootstrap_servers=infra_settings.kafka_bootstrap_servers,
        group_id=lines_group,
        store=logs.store_lines,
        show=logs.show_lines,
        park=lambda raw, why: dead_letter(infra.producer, EXTENSION_LOGS, lines_group, raw, why),
        max_records=settings.lines_max_records,
        poll_ms=settings.lines_poll_ms,
        fetch_max_wait_ms=settings.lines_fetch_max_wait_ms,
        session_timeout_ms=infra_settings.kafka_session_timeout_ms,
    )
    infra.consumers.consumes.append(EXTENSION_LOGS.name)
    infra.readiness.checks["lines_consumer"] = line_consumer.assigned
    # One consumer for everything else stored (each consumer joining a group costs seconds).
    infra.consumers.subscribe_batch(
        settings.group_id,
        {
            AUDIT_EVENTS: on.audit_handler(logs),
            STREAM_STATUS: on.stream_status_handler(logs, rules),
            WEBHOOK_HEALTH: on.webhook_health_handler(logs, rules),
            SECRET_READS: on.secret_reads_handler(logs),
            CANONICAL_RECORDS: on.canonical_handler(records, view),
            OBSERVED_RECORDS: on.observed_handler(records),
        },
        max_records=settings.batch_max_records,
        batch_timeout_ms=settings.batch_timeout_ms,
    )
    if settings.tail_own_group:
        # The tails' own group per process, from the newest offset: every replica sees every
        # line, whichever partitions its storing consumer holds.
        infra.consumers.subscribe_batch(
            f"{settings.group_id}-tail-{uuid.uuid4().hex[:12]}",
            {EXTENSION_LOGS: on.tail_handler(hub)},
            max_records=settings.batch_max_records,
            batch_timeout_ms=settings.batch_timeout_ms,
            auto_offset_reset="latest",
        )

    async def open_store() -> None:
        follower.start()
        line_consumer.start()
        await clickhouse.open()
        await sender.start()
        await sweeper.start()

    async def close_store() -> None:
        await follower.stop()
        await sweeper.stop()
        await sender.stop()
        await http.aclose()
        # Consumers finish (and commit) their batch before the store closes; stopping the
        # broker again in Infrastructure.stop is a no-op.
        await infra.broker.stop()
        await line_consumer.stop()
        await clickhouse.close()

    return build_http_app(
        service="logs",
        infra=infra,
        route_handlers=CONTROLLERS,
        dependencies={
            "logs": Provide(lambda: logs, sync_to_thread=False),
            "activity": Provide(lambda: activity, sync_to_thread=False),
            "reports": Provide(
                lambda: ObservationReports(records, lines, view), sync_to_thread=False
            ),
            "alerts": Provide(lambda: admin, sync_to_thread=False),
            "filters": Provide(provide_filters),
        },
        on_startup=[open_store],
        on_shutdown=[close_store],
    )


def main() -> None:
    """`python -m services.logs`."""
    run_service("logs", LogsSettings, PREFIX, create_app)
