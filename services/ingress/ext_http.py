"""HTTP in: extension API routes (`/ext/...`), pages, page actions, UI contributions, route lists.

Handlers translate only: `RouteServer` and `PageService` decide. `/ext` routes answer any
method and carry no platform auth (a route's own `api_key`/`public` applies); the `/v1`
routes take the caller's `Principal` (the console calls them with the member's token).
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get, post, route
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, FromQuery, JSONBody

from contracts.routes import HTTP_METHODS, RouteSpec
from contracts.ui import ActionResult, Contribution, PageRef, PageView
from services.base.auth import Principal
from services.base.errors import NotFound
from services.base.snapshots import SnapshotView
from services.ingress.ext_routes import RouteAnswer, RouteServer
from services.ingress.pages import PageService

DEV = "_dev"
METHODS: list[Any] = list(HTTP_METHODS)
BASE = "/v1/installations/{installation_id:str}"


class ActionCall(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A page action's input: the form's fields (or a button's payload)."""

    input: dict[str, Any] = {}


class RouteListing(msgspec.Struct, frozen=True, kw_only=True):
    """An installation's API routes: its base URL path and each route's methods and auth."""

    installation_id: str
    state: str
    base_path: str  # `/ext/{installation_id}`; a dev session's is `{base_path}/_dev/{session}`
    version_id: str
    routes: list[RouteSpec]
    draft_version_id: str | None = None
    draft_routes: list[RouteSpec] = []


def ext_routes(server: RouteServer) -> list[HTTPRouteHandler]:
    """`ANY /ext/{installation_id}[/{path}]` bound to one route server."""

    async def answer(
        installation_id: str, path: str, request: Request[Any, Any, Any]
    ) -> Response[bytes]:
        session: str | None = None
        parts = path.strip("/").split("/", 2)
        if parts[0] == DEV:
            if len(parts) < 2 or not parts[1]:
                return _send(
                    RouteAnswer(404, b'{"error":{"code":"not_found","message":"no dev session"}}')
                )
            session = parts[1]
            path = "/" + (parts[2] if len(parts) > 2 else "")
        headers = {
            k.decode("latin-1").lower(): v.decode("latin-1") for k, v in request.scope["headers"]
        }
        query = {k: v for k, v in request.query_params.items()}
        result = await server.serve(
            installation_id, session, request.method, path, headers, query, await request.body()
        )
        return _send(result)

    @route(
        "/ext/{installation_id:str}/{path:path}",
        http_method=METHODS,
        summary="An extension's API route",
    )
    async def ext_route(
        installation_id: FromPath[str], path: FromPath[str], request: Request[Any, Any, Any]
    ) -> Response[bytes]:
        """The route's answer; see `services.ingress.ext_routes` for every refusal."""
        return await answer(installation_id, path, request)

    @route(
        "/ext/{installation_id:str}",
        http_method=METHODS,
        summary="An extension's index route",
    )
    async def ext_index(
        installation_id: FromPath[str], request: Request[Any, Any, Any]
    ) -> Response[bytes]:
        """`src/api/index.py` of the installation."""
        return await answer(installation_id, "/", request)

    return [ext_route, ext_index]


def _send(answer: RouteAnswer) -> Response[bytes]:
    headers = dict(answer.headers)
    media_type = headers.pop("content-type", "application/json")
    return Response(answer.body, status_code=answer.status, headers=headers, media_type=media_type)


@get(f"{BASE}/routes", summary="The installation's API routes and URLs", sync_to_thread=False)
def list_routes(
    installation_id: FromPath[str],
    principal: NamedDependency[Principal],
    snapshots: NamedDependency[SnapshotView],
) -> RouteListing:
    """What `backfill routes` prints: the base path and each route of the active (and draft)."""
    snapshot = snapshots.get(installation_id)
    if (
        snapshot is None
        or snapshot.workspace_id != principal.workspace_id
        or snapshot.active is None
    ):
        raise NotFound(f"installation {installation_id!r} not found", field="installation_id")
    draft = snapshot.draft
    mine = draft is not None and snapshot.draft_member_id == principal.member_id
    return RouteListing(
        installation_id=installation_id,
        state=snapshot.state,
        base_path=f"/ext/{installation_id}",
        version_id=snapshot.active.version_id,
        routes=[r for r in snapshot.active.routes if not r.webhook],
        draft_version_id=draft.version_id if draft is not None and mine else None,
        draft_routes=[r for r in draft.routes if not r.webhook]
        if draft is not None and mine
        else [],
    )


@get(f"{BASE}/pages", summary="Pages the caller may see", sync_to_thread=False)
def list_pages(
    installation_id: FromPath[str],
    principal: NamedDependency[Principal],
    pages: NamedDependency[PageService],
    session: FromQuery[str | None] = None,
) -> list[PageRef]:
    """The installation's pages the caller's role may see; no code runs."""
    return pages.list_pages(principal, installation_id, session)


@get(f"{BASE}/pages/{{path:str}}", summary="Render a page")
async def render_page(
    installation_id: FromPath[str],
    path: FromPath[str],
    principal: NamedDependency[Principal],
    pages: NamedDependency[PageService],
    request: Request[Any, Any, Any],
    session: FromQuery[str | None] = None,
) -> PageView:
    """The page's checked component tree, rendered for the caller (role checked first)."""
    query = {k: v for k, v in request.query_params.items() if k != "session"}
    return await pages.render(principal, installation_id, path, session, query)


@post(
    f"{BASE}/pages/{{path:str}}/actions/{{action:str}}",
    status_code=200,
    summary="Run a page action",
)
async def run_page_action(
    installation_id: FromPath[str],
    path: FromPath[str],
    action: FromPath[str],
    principal: NamedDependency[Principal],
    pages: NamedDependency[PageService],
    data: JSONBody[ActionCall],
    session: FromQuery[str | None] = None,
) -> Response[ActionResult]:
    """Run as the caller (roles checked): 200 with its result, 422 with its field errors."""
    status, result = await pages.act(principal, installation_id, path, action, data.input, session)
    return Response(result, status_code=status)


@get("/v1/ui/{slot:str}", summary="UI contributions to a console slot")
async def ui_contributions(
    slot: FromPath[str], principal: NamedDependency[Principal], pages: NamedDependency[PageService]
) -> list[Contribution]:
    """Each contribution of the workspace's active installations to `slot`, rendered."""
    return await pages.contributions(principal, slot)


PAGE_ROUTES = [list_routes, list_pages, render_page, run_page_action, ui_contributions]
