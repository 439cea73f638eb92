"""The sync composition root: the only place that reads settings and builds clients."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.di import Provide

from contracts.audit import AuditEvent
from contracts.topics import (
    AUDIT_EVENTS,
    CANONICAL_RECORDS,
    DEAD_LETTERS,
    ENTITY_CHANGES,
    EXTENSION_LOGS,
    INSTALLATION_SNAPSHOTS,
    OBSERVED_RECORDS,
    SECRET_READS,
    STREAM_STATUS,
)
from services.base.dedupe import Deduplicator, RecordLedger
from services.base.dedupe.once import PublishOnce
from services.base.dedupe.page import PageDedupeStore
from services.base.hook_index import HookIndex
from services.base.hosts import HostCheck
from services.base.http import build_http_app, run_service
from services.base.infrastructure import Infrastructure
from services.base.kafka import group_timeouts, publish
from services.base.runtime import build_runtime
from services.base.settings import InfraSettings, load_keyring
from services.base.snapshots import Follower, SnapshotView
from services.sync.after_hooks import AfterHooks
from services.sync.budget import RequestBudget
from services.sync.connection_test import ConnectionTester
from services.sync.delivery import PageDelivery
from services.sync.dry_run import DryRunner
from services.sync.oauth import TokenSource
from services.sync.routes import (
    cursor_history,
    dry_run,
    list_streams,
    reset_stream,
    restore_cursor,
    run_stream,
    test_connection,
)
from services.sync.runs import RunLimits, Runner
from services.sync.scheduler import Scheduler
from services.sync.service import SyncService
from services.sync.settings import PREFIX, SyncSettings
from services.sync.status import StatusBoard
from services.sync.store import SyncStore
from services.sync.subscribers import follow_snapshots


def create_app(settings: SyncSettings, infra_settings: InfraSettings) -> Litestar:
    """Wire the scheduler (this replica's snapshot partitions), its runs and the API."""
    infra = Infrastructure.create(infra_settings, "sync")
    infra.producer_request_timeout_ms = int(settings.publish_timeout_s * 1000)
    published = (CANONICAL_RECORDS, OBSERVED_RECORDS, STREAM_STATUS, EXTENSION_LOGS, SECRET_READS)
    for topic in (*published, AUDIT_EVENTS):
        infra.publisher(topic)
    keyring = load_keyring(infra_settings)
    overrides = settings.parsed_host_overrides()
    runtime = build_runtime(
        infra,
        keyring,
        time_limit_s=settings.invocation_time_limit_s,
        host_overrides=overrides,
    )
    store = SyncStore(infra.redis, history_limit=settings.cursor_history_limit)
    board = StatusBoard(
        store,
        lambda: infra.producer,
        every_s=settings.status_every_s,
        gather_s=settings.status_gather_s,
    )
    budget = RequestBudget(settings.requests_per_second, settings.request_burst)
    tokens = TokenSource(
        redis=infra.redis,
        keyring=keyring,
        registry_url=settings.registry_url,
        internal_token=infra_settings.internal_token,
        margin_s=settings.oauth_refresh_margin_s,
        host_overrides=overrides,
        hosts=HostCheck(allow_local_oauth=settings.oauth_allow_local_providers),
    )
    runner = Runner(
        invoker=runtime,
        store=store,
        delivery=PageDelivery(
            PublishOnce(
                Deduplicator(
                    PageDedupeStore(infra.redis, infra.wire),
                    ttl_s=settings.dedupe_ttl_s,
                    pending_s=settings.dedupe_pending_s,
                    wait_s=settings.dedupe_pending_s + 2,
                    verify=RecordLedger(
                        infra_settings.kafka_bootstrap_servers,
                        settings.publish_timeout_s * 2,
                        client_id="sync-dedupe-ledger",
                    ).contains,
                ),
                lambda: infra.producer,
                timeout_s=settings.publish_timeout_s,
                own_batches=True,
            ),
            gap_window_s=settings.webhook_gap_window_s,
        ),
        board=board,
        budget=budget,
        tokens=tokens,
        producer=lambda: infra.producer,
        limits=RunLimits(
            max_pages=settings.max_pages_per_run,
            lease_ttl_s=settings.lease_ttl_s,
            backoff_base_s=settings.backoff_base_s,
            backoff_max_s=settings.backoff_max_s,
            gap_window_s=settings.webhook_gap_window_s,
        ),
    )
    view = SnapshotView()
    scheduler = Scheduler(
        runner=runner,
        store=store,
        board=board,
        budget=budget,
        max_concurrent=settings.max_concurrent_runs,
        jitter_fraction=settings.jitter_fraction,
        view=view,
    )
    partitions = follow_snapshots(
        infra_settings.kafka_bootstrap_servers,
        settings.group_id,
        scheduler,
        view,
        lambda: infra.producer,
        group_timeouts(infra_settings),
    )
    infra.consumers.reader(INSTALLATION_SNAPSHOTS)
    infra.publisher(DEAD_LETTERS)
    infra.readiness.checks["scheduler"] = lambda: view.ready
    after_hooks, follower = _after_hooks(settings, infra, runtime, runner.delivery.once)

    async def begin() -> None:  # after Kafka answered: runs publish from their first page
        scheduler.start()
        partitions.start()
        follower.start()

    async def audit(event: AuditEvent) -> None:
        await publish(infra.producer, AUDIT_EVENTS, event)

    async def end() -> None:
        await scheduler.stop()  # runs end at a page boundary, leases released
        await runner.settling.drain()  # bounded; unsettled claims go stale and are verified
        await partitions.stop()  # then leave the group: the partitions move on
        await follower.stop()
        await tokens.close()
        await runtime.close()

    infra.after_connect.append(begin)
    service = SyncService(store, audit)
    dry_runner = DryRunner(view.get, runtime, tokens)
    tester = ConnectionTester(runtime, lambda line: publish(infra.producer, EXTENSION_LOGS, line))
    app = build_http_app(
        service="sync",
        infra=infra,
        route_handlers=[
            list_streams,
            run_stream,
            reset_stream,
            cursor_history,
            restore_cursor,
            test_connection,
            dry_run,
        ],
        dependencies={
            "tester": Provide(lambda: tester, sync_to_thread=False),
            "dry_runner": Provide(lambda: dry_runner, sync_to_thread=False),
            "sync": Provide(lambda: service, sync_to_thread=False),
        },
        on_shutdown=[end],
    )
    app.state.scheduler = scheduler  # tests and the bench read lateness and page counts
    app.state.runner = runner
    app.state.after_hooks = after_hooks
    return app


def _after_hooks(
    settings: SyncSettings, infra: Infrastructure, runtime: Any, once: PublishOnce
) -> tuple[AfterHooks, Follower]:
    """after_* hooks on entities.changes.v1, over every installation's snapshot (all partitions)."""
    view = SnapshotView()
    index = HookIndex(view)
    view.listeners.append(index.on_snapshot)
    follower = Follower(infra.settings.kafka_bootstrap_servers, view, service="sync-hooks")
    runtime.entity_definitions = index.definitions
    after_hooks = AfterHooks(
        index=index,
        ready=lambda: view.ready,
        invoker=runtime,
        once=once,
        log=lambda line: publish(infra.producer, EXTENSION_LOGS, line),
        attempts=settings.after_hook_attempts,
        backoff_s=settings.after_hook_backoff_s,
    )
    infra.consumers.subscribe_batch(
        settings.after_hooks_group_id, {ENTITY_CHANGES: after_hooks.handle}
    )
    infra.readiness.checks["hook snapshots"] = lambda: view.ready
    return after_hooks, follower


def main() -> None:
    """`python -m services.sync`."""
    run_service("sync", SyncSettings, PREFIX, create_app)
