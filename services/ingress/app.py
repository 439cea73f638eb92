"""The ingress composition root: the only place that reads settings and builds clients."""

from __future__ import annotations

import gc
import os
import socket

from litestar import Litestar
from litestar.di import Provide

from contracts.topics import (
    CANONICAL_RECORDS,
    EXTENSION_LOGS,
    INSTALLATION_SNAPSHOTS,
    OBSERVED_RECORDS,
    SECRET_READS,
    WEBHOOK_DELIVERIES,
    WEBHOOK_HEALTH,
)
from services.base.dedupe import Deduplicator, RecordLedger
from services.base.hook_index import HookIndex
from services.base.http import build_http_app, run_service
from services.base.infrastructure import Infrastructure
from services.base.kafka import publish, publish_all
from services.base.runtime import build_runtime
from services.base.settings import InfraSettings, load_keyring
from services.base.snapshots import Follower, SnapshotView
from services.base.tasks import Background
from services.ingress.before_write import BeforeWrite
from services.ingress.deliveries import DeliveryReader
from services.ingress.drafts import DraftRunner
from services.ingress.ext_http import PAGE_ROUTES, ext_routes
from services.ingress.ext_routes import RouteLimits, RouteServer
from services.ingress.fast_path import DeliveryEndpoint
from services.ingress.health import HealthRecorder
from services.ingress.held import HeldQueue
from services.ingress.history import DeliveryHistory
from services.ingress.hook_routes import hook_routes
from services.ingress.hook_trigger import HookTriggers
from services.ingress.pages import PageService
from services.ingress.publisher import DeliveryPublisher
from services.ingress.rate_limit import RateLimiter
from services.ingress.routes import API_ROUTES, delivery_route, draft_route
from services.ingress.service import WebhookIngress
from services.ingress.settings import PREFIX, IngressSettings
from services.ingress.signing_keys import SigningKeys
from services.ingress.store import IngressStore


def create_app(settings: IngressSettings, infra_settings: InfraSettings) -> Litestar:
    """Wire the snapshot view, the webhook pipeline, held queues, history and health."""
    keyring = load_keyring(infra_settings)
    infra = Infrastructure.create(infra_settings, "ingress")
    infra.producer_request_timeout_ms = settings.producer_request_timeout_ms
    infra.producer_linger_ms = settings.producer_linger_ms
    timeout_s = settings.producer_request_timeout_ms / 1000
    view = SnapshotView()
    store = IngressStore(
        infra.redis,
        history_limit=settings.history_per_installation,
        history_ttl_s=settings.history_ttl_s,
        wire=infra.wire,
    )
    background = Background()
    health = HealthRecorder(
        store,
        settings.health_flush_s,
        replica=f"ingress-{socket.gethostname()}-{os.getpid()}",
        workspace_of=lambda installation_id: _workspace_of(view, installation_id),
        publish=lambda windows: publish_all(infra.producer, WEBHOOK_HEALTH, windows),
    )
    runtime = build_runtime(infra, keyring, time_limit_s=settings.handler_time_limit_s)
    keys = SigningKeys(keyring, settings.signature_tolerance_s)
    ingress = WebhookIngress(
        view=view,
        keys=keys,
        invoker=runtime,
        publisher=DeliveryPublisher(lambda: infra.producer, timeout_s),
        dedupe=Deduplicator(
            store,
            ttl_s=settings.dedupe_ttl_s,
            pending_s=settings.dedupe_pending_s,
            wait_s=timeout_s + 2,
            verify=RecordLedger(
                infra_settings.kafka_bootstrap_servers, timeout_s * 2, client_id="ingress-ledger"
            ).contains,
        ),
        store=store,
        health=health,
        background=background,
    )
    reader = DeliveryReader(infra_settings.kafka_bootstrap_servers, timeout_s * 2)
    held = HeldQueue(view, ingress, store, reader)
    history = DeliveryHistory(
        view=view,
        store=store,
        reader=reader,
        ingress=ingress,
        keys=keys,
        health=health,
        replay_max=settings.replay_max_deliveries,
    )

    routes = RouteServer(
        view=view,
        invoker=runtime,
        tick=store.tick,
        limiter=RateLimiter(store.tick, settings.route_rate_limit, settings.route_rate_window_s),
        limits=RouteLimits(
            max_request_bytes=settings.route_max_request_bytes,
            max_response_bytes=settings.route_max_response_bytes,
        ),
        background=background,
    )
    pages = PageService(view, runtime)

    async def remember(snapshot, _previous):  # type: ignore[no-untyped-def]
        background.spawn(store.remember(snapshot))

    hooks = HookIndex(view)
    runtime.entity_definitions = hooks.definitions
    before_write = BeforeWrite(
        index=hooks,
        invoker=runtime,
        log=lambda line: publish(infra.producer, EXTENSION_LOGS, line),
        background=background,
        deadline_ms=settings.hooks_deadline_ms,
        shadow_limit=settings.hooks_shadow_limit,
    )
    view.listeners += [remember, held.on_snapshot, hooks.on_snapshot]
    follower = Follower(infra_settings.kafka_bootstrap_servers, view, service="ingress")
    infra.readiness.checks["snapshots"] = lambda: view.ready
    for topic in (
        WEBHOOK_DELIVERIES,
        CANONICAL_RECORDS,
        OBSERVED_RECORDS,
        EXTENSION_LOGS,
        WEBHOOK_HEALTH,
        SECRET_READS,
    ):
        infra.publisher(topic)
    infra.consumers.reader(INSTALLATION_SNAPSHOTS)  # the snapshot view, rebuilt from the start
    infra.consumers.reader(WEBHOOK_DELIVERIES)  # replays and held deliveries, by offset

    async def start() -> None:
        follower.start()
        health.start()
        # Everything built so far lives as long as the process: exempt it from the cyclic
        # collector, whose full passes would otherwise rescan it (tens of ms each, under load).
        gc.freeze()

    async def stop() -> None:
        await follower.stop()
        await held.stop()
        await background.drain()
        await health.stop()
        await runtime.close()

    app = build_http_app(
        service="ingress",
        infra=infra,
        route_handlers=[
            delivery_route(ingress),
            draft_route(DraftRunner(view, keys, runtime)),
            *API_ROUTES,
            *hook_routes(before_write, HookTriggers(view, runtime)),
            *ext_routes(routes),
            *PAGE_ROUTES,
        ],
        dependencies={
            "history": Provide(lambda: history, sync_to_thread=False),
            "pages": Provide(lambda: pages, sync_to_thread=False),
            "snapshots": Provide(lambda: view, sync_to_thread=False),
        },
        on_startup=[start],
        on_shutdown=[stop],
    )
    # The hot path answers before Litestar's routing and middleware; the rest of the app
    # (and its lifespan, exception handlers, metrics) is untouched.
    app.asgi_handler = DeliveryEndpoint(
        ingress,
        app.asgi_handler,
        max_body_bytes=_body_limit(app),
        prometheus=app.state.prometheus,
    )
    return app


def _workspace_of(view: SnapshotView, installation_id: str) -> str | None:
    snapshot = view.get(installation_id)
    return snapshot.workspace_id if snapshot is not None else None


def _body_limit(app: Litestar) -> int:
    """Litestar's request body limit (413 past it), which the fast path keeps."""
    limit = app.request_max_body_size
    return limit if isinstance(limit, int) else 10_000_000


def main() -> None:
    """`python -m services.ingress`."""
    run_service("ingress", IngressSettings, PREFIX, create_app)
