"""HTTP in: providers' deliveries (`/hooks/{hook_id}`) and the history/replay/health API.

Deliveries are the hot path: `DeliveryEndpoint` answers `POST /hooks/{hook_id}` as raw ASGI
in front of Litestar (no routing, dependency injection, request/response objects or
middleware), with the answer's bytes prebuilt or encoded once; `delivery_route` documents the
same endpoint in OpenAPI and serves the requests the fast path passes on. The API routes take
the caller's `Principal`; its workspace scopes every lookup.
"""

from __future__ import annotations

import logging
import time
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.enums import MediaType, ScopeType
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.plugins.prometheus import PrometheusConfig
from litestar.plugins.prometheus.middleware import PrometheusMiddleware
from litestar.types import ASGIApp, HTTPResponseStartEvent, Receive, Scope, Send

from services.base.auth import Principal
from services.ingress.drafts import DraftRunner
from services.ingress.history import DeliveryHistory
from services.ingress.schemas import (
    DeliveryPage,
    DeliverySummary,
    RangeReplayRequest,
    ReplayBatch,
    ReplayRequest,
    ReplayResult,
    WebhookEndpoint,
    WebhookHealth,
)
from services.ingress.service import Answer, WebhookIngress

log = logging.getLogger(__name__)

HOOKS = "/hooks/"
DELIVERY_TEMPLATE = "/hooks/{hook_id}"  # the `path` label Litestar's middleware gives the route
TOO_LARGE = Answer(
    413, b'{"error":{"code":"error","message":"Request Entity Too Large"}}'
)  # Litestar's own answer past its request_max_body_size
INTERNAL = Answer(500, b'{"error":{"code":"internal_error","message":"internal error"}}')
_JSON = (b"content-type", b"application/json")


class DeliveryEndpoint:
    """`POST /hooks/{hook_id}` (one path segment) answered directly; other requests go to `app`.

    Keeps what Litestar gave this route: the body size limit (413), the error shape of an
    unexpected failure (500, logged with its traceback), and a count in /metrics under the
    same series (`litestar_requests_total` etc., path `/hooks/{hook_id}`).
    """

    def __init__(
        self,
        ingress: WebhookIngress,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        prometheus: PrometheusConfig | None,
    ) -> None:
        self.ingress = ingress
        self.app = app
        self.max_body_bytes = max_body_bytes
        self._metrics = _DeliveryMetrics(prometheus) if prometheus is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP and scope["method"] == "POST":
            path = scope["path"]
            hook_id = path[len(HOOKS) :]
            if path.startswith(HOOKS) and hook_id and "/" not in hook_id:
                await self._deliver(hook_id, scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _deliver(self, hook_id: str, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        if self._metrics is not None:
            self._metrics.in_progress.inc()
        status = 500
        try:
            body = await _body(receive, self.max_body_bytes)
            if body is None:
                return  # the client went away; nobody to answer
            if len(body) > self.max_body_bytes:
                answer = TOO_LARGE
            else:
                headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
                try:
                    answer = await self.ingress.receive(hook_id, body, headers)
                except Exception:
                    log.exception(
                        "unhandled error", extra={"path": scope["path"], "method": "POST"}
                    )
                    answer = INTERNAL
            status = answer.status
            start: HTTPResponseStartEvent = {
                "type": "http.response.start",
                "status": answer.status,
                "headers": [_JSON, (b"content-length", b"%d" % len(answer.body))],
            }
            await send(start)
            await send({"type": "http.response.body", "body": answer.body, "more_body": False})
        finally:
            if self._metrics is not None:
                self._metrics.in_progress.dec()
                self._metrics.observe(status, time.perf_counter() - started)


class _DeliveryMetrics:
    """The Prometheus middleware's series for the delivery route, children cached per status."""

    def __init__(self, config: PrometheusConfig) -> None:
        self.metrics = PrometheusMiddleware(app=_unused, config=config)  # its shared metrics
        self.app_name = config.app_name
        self.in_progress = self._child("requests_in_progress", 200)  # as the middleware labels it
        self._by_status: dict[int, tuple[Any, Any, Any]] = {}

    def _labels(self, status: int) -> dict[str, str | int | float]:
        # The middleware's label order: the series are created with these names on first use.
        return {
            "method": "POST",
            "path": DELIVERY_TEMPLATE,
            "status_code": status,
            "app_name": self.app_name,
        }

    def _child(self, metric: str, status: int) -> Any:
        labels = self._labels(status)
        return getattr(self.metrics, metric)(labels).labels(*labels.values())

    def observe(self, status: int, seconds: float) -> None:
        """Count one answered delivery and its duration (5xx also as an error)."""
        children = self._by_status.get(status)
        if children is None:
            children = (
                self._child("request_count", status),
                self._child("request_time", status),
                self._child("requests_error_count", status) if status >= 500 else None,
            )
            self._by_status[status] = children
        count, duration, error = children
        count.inc()
        duration.observe(seconds)
        if error is not None:
            error.inc()


async def _unused(scope: Scope, receive: Receive, send: Send) -> None:
    raise RuntimeError("only the middleware's metrics are used")


async def _body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body; stops reading past `limit` bytes; None if the client left."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if size > limit or not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def delivery_route(ingress: WebhookIngress) -> HTTPRouteHandler:
    """`POST /hooks/{hook_id}` bound to one pipeline."""

    @post("/hooks/{hook_id:str}", status_code=202, summary="Receive a provider's webhook")
    async def receive_delivery(hook_id: FromPath[str], request: Request) -> Response[bytes]:
        """202 only once the raw delivery and its records are acknowledged by Kafka."""
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in request.scope["headers"]}
        answer = await ingress.receive(hook_id, await request.body(), headers)
        return Response(answer.body, status_code=answer.status, media_type=MediaType.JSON)

    return receive_delivery


def draft_route(drafts: DraftRunner) -> HTTPRouteHandler:
    """`POST /hooks/{hook_id}/dev/{session_id}`: a `backfill dev` session's draft deliveries."""

    @post(
        "/hooks/{hook_id:str}/dev/{session_id:str}",
        status_code=200,
        summary="Run the draft version for a dev session",
    )
    async def receive_draft_delivery(
        hook_id: FromPath[str], session_id: FromPath[str], request: Request
    ) -> Response[bytes]:
        """The draft's answer; 404 unless `session_id` is the session the draft belongs to."""
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in request.scope["headers"]}
        status, body = await drafts.receive(hook_id, session_id, await request.body(), headers)
        return Response(body, status_code=status, media_type=MediaType.JSON)

    return receive_draft_delivery


BASE = "/v1/installations/{installation_id:str}"


@get(f"{BASE}/webhook", summary="The installation's webhook URL", sync_to_thread=False)
def webhook_endpoint(
    installation_id: str, principal: Principal, history: DeliveryHistory
) -> WebhookEndpoint:
    """The path to paste into the provider (`/hooks/<hook_id>`), its scheme and versions."""
    return history.endpoint(principal.workspace_id, installation_id)


@get(f"{BASE}/deliveries", summary="Delivery history, newest first")
async def list_deliveries(
    installation_id: FromPath[str],
    principal: NamedDependency[Principal],
    history: NamedDependency[DeliveryHistory],
    limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
    before: FromQuery[float | None] = None,
) -> DeliveryPage:
    """Status, event type, outcome, duplicate flag and the version that handled each."""
    return await history.page(principal.workspace_id, installation_id, limit=limit, before=before)


@get(f"{BASE}/deliveries/{{delivery_id:str}}", summary="One delivery")
async def get_delivery(
    installation_id: FromPath[str],
    delivery_id: FromPath[str],
    principal: NamedDependency[Principal],
    history: NamedDependency[DeliveryHistory],
) -> DeliverySummary:
    """One delivery of the caller's installation."""
    return await history.get(principal.workspace_id, installation_id, delivery_id)


@post(f"{BASE}/deliveries/{{delivery_id:str}}/replay", status_code=200, summary="Replay one")
async def replay_delivery(
    installation_id: FromPath[str],
    delivery_id: FromPath[str],
    principal: NamedDependency[Principal],
    history: NamedDependency[DeliveryHistory],
    data: JSONBody[ReplayRequest | None] = None,
) -> ReplayResult:
    """Re-verify with the arrival-time secret, then run through the current or a chosen version."""
    principal.require_admin()
    version_id = data.version_id if data else None
    return await history.replay(principal.workspace_id, installation_id, delivery_id, version_id)


@post(f"{BASE}/deliveries/replay", status_code=200, summary="Replay a time range")
async def replay_range(
    installation_id: FromPath[str],
    data: JSONBody[RangeReplayRequest],
    principal: NamedDependency[Principal],
    history: NamedDependency[DeliveryHistory],
) -> ReplayBatch:
    """Replay every stored delivery received in [since, until), oldest first."""
    principal.require_admin()
    results = await history.replay_range(
        principal.workspace_id,
        installation_id,
        since=data.since,
        until=data.until,
        version_id=data.version_id,
        limit=data.limit,
    )
    return ReplayBatch(results=results)


@get(f"{BASE}/webhook-health", summary="Webhook health")
async def webhook_health(
    installation_id: FromPath[str],
    principal: NamedDependency[Principal],
    history: NamedDependency[DeliveryHistory],
) -> WebhookHealth:
    """Delivery rate, 2xx/4xx/5xx counts and last success, across every ingress replica."""
    return await history.health(principal.workspace_id, installation_id)


API_ROUTES = [
    webhook_endpoint,
    list_deliveries,
    get_delivery,
    replay_delivery,
    replay_range,
    webhook_health,
]
