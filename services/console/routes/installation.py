"""HTTP in: the per-installation page, one route per tab, plus its htmx fragments."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from services.console.downstream import Downstream
from services.console.routes.responses import page, partial
from services.console.service import installation as tabs
from services.console.service.viewer import Viewer

BASE = "/installations/{installation_id:str}"


@get(BASE)
async def installation_home(installation_id: FromPath[str]) -> Redirect:
    return Redirect(f"/installations/{installation_id}/settings", status_code=303)


TabContext = Callable[[Downstream, Viewer, str], Awaitable[dict[str, Any]]]


def plain_tab(name: str, context_of: TabContext) -> HTTPRouteHandler:
    """`GET /installations/{id}/<name>`: a tab that needs nothing but the installation."""

    @get(f"{BASE}/{name}", name=f"{name}_tab")
    async def tab(
        request: Request[Any, Any, Any],
        downstream: NamedDependency[Downstream],
        viewer: NamedDependency[Viewer],
        installation_id: FromPath[str],
    ) -> Template:
        context = await context_of(downstream, viewer, installation_id)
        return page(request, f"installation/{name}.html", context)

    return tab


# Settings also holds a connector's connection setup (test, OAuth, webhook, activate).
PLAIN_TABS = [
    plain_tab(name, context_of)
    for name, context_of in (
        ("settings", tabs.settings_tab),
        ("secrets", tabs.secrets_tab),
        ("permissions", tabs.permissions_tab),
        ("connection", tabs.connection_tab),
        ("versions", tabs.versions_tab),
    )
]


@get(f"{BASE}/streams/{{stream:str}}/cursors")
async def cursor_history(
    downstream: NamedDependency[Downstream],
    viewer: NamedDependency[Viewer],
    installation_id: FromPath[str],
    stream: FromPath[str],
) -> Template:
    """Fragment: a stream's cursor history with Restore."""
    context = await tabs.cursor_history(downstream, viewer, installation_id, stream)
    return partial(
        "installation/_cursors.html",
        {**context, "installation_id": installation_id, "viewer": viewer},
    )


@get(f"{BASE}/deliveries")
async def deliveries_tab(
    request: Request[Any, Any, Any],
    downstream: NamedDependency[Downstream],
    viewer: NamedDependency[Viewer],
    installation_id: FromPath[str],
    before: FromQuery[str | None] = None,
) -> Template:
    context = await tabs.deliveries_tab(downstream, viewer, installation_id, before)
    return page(request, "installation/deliveries.html", context)


@get(f"{BASE}/deliveries/{{delivery_id:str}}")
async def delivery_detail(
    downstream: NamedDependency[Downstream],
    viewer: NamedDependency[Viewer],
    installation_id: FromPath[str],
    delivery_id: FromPath[str],
) -> Template:
    """Fragment: one delivery's detail with Replay."""
    context = await tabs.delivery(downstream, viewer, installation_id, delivery_id)
    return partial("installation/_delivery.html", {**context, "viewer": viewer})


@get(f"{BASE}/versions/{{version_id:str}}/rollback")
async def rollback_confirm(
    request: Request[Any, Any, Any],
    downstream: NamedDependency[Downstream],
    viewer: NamedDependency[Viewer],
    installation_id: FromPath[str],
    version_id: FromPath[str],
) -> Template:
    """Confirm a rollback: the permission diff, and approval when it widens."""
    context = await tabs.page(downstream, viewer, installation_id, "versions")
    diff = await tabs.upgrade_diff(downstream, viewer, installation_id, version_id)
    return page(request, "installation/rollback.html", {**context, "diff": diff, "to": version_id})


@get(f"{BASE}/logs")
async def logs_tab(
    request: Request[Any, Any, Any],
    downstream: NamedDependency[Downstream],
    viewer: NamedDependency[Viewer],
    installation_id: FromPath[str],
) -> Template:
    filters = dict(request.query_params)
    context = await tabs.logs_tab(downstream, viewer, installation_id, filters)
    return page(request, "installation/logs.html", context)


@get(f"{BASE}/uninstall")
async def uninstall_confirm(
    request: Request[Any, Any, Any],
    downstream: NamedDependency[Downstream],
    viewer: NamedDependency[Viewer],
    installation_id: FromPath[str],
) -> Template:
    """Uninstall's confirmation: what is deleted and what persists."""
    context = await tabs.page(downstream, viewer, installation_id, "uninstall")
    return page(request, "installation/uninstall.html", context)


TAB_ROUTES = [
    installation_home,
    *PLAIN_TABS,
    cursor_history,
    deliveries_tab,
    delivery_detail,
    rollback_confirm,
    logs_tab,
    uninstall_confirm,
]
