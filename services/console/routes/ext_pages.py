"""HTTP in: extension pages under their installation, their actions, UI contribution fragments.

Page responses carry a strict Content-Security-Policy (scripts and styles from the console
only, no inline script, no plugins, no framing): even a tree that slipped past ingress's
checks could not run script here; the templates autoescape every string anyway.
Actions are form posts behind the console's CSRF check.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from services.console.downstream import Downstream
from services.console.routes.responses import back, form_of, page, partial
from services.console.service import ext_pages
from services.console.service import installation as tabs
from services.console.service.actions import Done
from services.console.service.viewer import Viewer

BASE = "/installations/{installation_id:str}/pages/{path:str}"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


@get(BASE)
async def extension_page(
    request: Request[Any, Any, Any],
    downstream: NamedDependency[Downstream],
    viewer: NamedDependency[Viewer],
    installation_id: FromPath[str],
    path: FromPath[str],
) -> Template:
    """An extension's page, rendered for the viewer (their draft with `?session=`)."""
    query = dict(request.query_params)
    context = await _page_context(downstream, viewer, installation_id, path, query)
    return _secured(page(request, "installation/ext_page.html", context))


@post(f"{BASE}/actions/{{action:str}}")
async def extension_page_action(
    request: Request[Any, Any, Any],
    downstream: NamedDependency[Downstream],
    viewer: NamedDependency[Viewer],
    installation_id: FromPath[str],
    path: FromPath[str],
    action: FromPath[str],
    session: FromQuery[str | None] = None,
) -> Template | Redirect:
    """Run the action as the viewer; field errors re-render the page next to their fields."""
    form = await form_of(request)
    result = await ext_pages.run_action(
        downstream, viewer.token, installation_id, path, action, form, session
    )
    to = f"/installations/{installation_id}/pages/{path}" + (
        f"?session={session}" if session else ""
    )
    if isinstance(result, ext_pages.Failed):
        return back(request, to, Done(ok=False, message=result.message))
    if not result.ok:
        query = {"session": session} if session else {}
        context = await _page_context(downstream, viewer, installation_id, path, query)
        errors = {e.field: e.message for e in result.errors}
        values = {k.removeprefix(ext_pages.FIELD_PREFIX): v for k, v in form.items()}
        if context.get("view") is not None:
            context["nodes"] = ext_pages.view_tree(context["view"].tree, errors, values, action)
        context["action_error"] = result.message
        response = page(request, "installation/ext_page.html", context)
        response.status_code = 422
        return _secured(response)
    return back(request, to, Done(ok=True, message=result.message or "Done."))


@get("/ui/{slot:str}")
async def contributions_fragment(
    downstream: NamedDependency[Downstream],
    viewer: NamedDependency[Viewer],
    slot: FromPath[str],
    installation_id: FromQuery[str | None] = None,
) -> Template:
    """Fragment: the contributions to a slot (of one installation when given)."""
    found = await ext_pages.contributions(downstream, viewer.token, slot)
    items = [
        {"c": c, "nodes": ext_pages.view_tree(c.tree)}
        for c in found
        if installation_id is None or c.installation_id == installation_id
    ]
    return _secured(partial("ext/_contributions.html", {"items": items, "slot": slot}))


async def _page_context(
    downstream: Downstream, viewer: Viewer, installation_id: str, path: str, query: dict[str, str]
) -> dict[str, Any]:
    context = await tabs.page(downstream, viewer, installation_id, f"pages/{path}")
    view = await ext_pages.render_page(downstream, viewer.token, installation_id, path, query)
    if isinstance(view, ext_pages.Failed):
        return {**context, "view": None, "page_failure": view, "path_segment": path}
    return {
        **context,
        "view": view,
        "nodes": ext_pages.view_tree(view.tree),
        "path_segment": path,
        "session": query.get("session"),
    }


def _secured(response: Response[Any]) -> Any:
    response.headers["content-security-policy"] = CSP
    return response


EXT_PAGE_ROUTES = [extension_page, extension_page_action, contributions_fragment]
