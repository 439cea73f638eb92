"""HTTP in: providers' deliveries (`/hooks/{hook_id}`) and the history/replay/health API.

Deliveries are the hot path, answered by `fast_path.DeliveryEndpoint` in front of Litestar;
`delivery_route` documents the same endpoint in OpenAPI and serves the requests the fast path
passes on. The API routes take the caller's `Principal`; its workspace scopes every lookup.
"""

from __future__ import annotations

from typing import Annotated

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.enums import MediaType
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

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
from services.ingress.service import WebhookIngress


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
    installation_id: FromPath[str],
    principal: NamedDependency[Principal],
    history: NamedDependency[DeliveryHistory],
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
