"""HTTP in: Members (roles) and Audit."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect, Template

from services.console.downstream import Downstream
from services.console.routes.responses import back, form_of, page
from services.console.service import actions, workspace
from services.console.service.viewer import Viewer


@get("/members")
async def members(
    request: Request[Any, Any, Any],
    downstream: NamedDependency[Downstream],
    viewer: NamedDependency[Viewer],
) -> Template:
    """Every member with their role; admins add members."""
    return page(request, "members.html", await workspace.members(downstream, viewer))


@post("/members")
async def add_member(
    request: Request[Any, Any, Any],
    downstream: NamedDependency[Downstream],
    viewer: NamedDependency[Viewer],
) -> Redirect:
    form = await form_of(request)
    email = str(form.get("email") or "").strip()
    body = {"email": email, "role": "admin" if form.get("role") == "admin" else "member"}
    done = await actions.run(downstream, viewer, "add_member", body=body, email=email)
    return back(request, "/members", done)


@get("/audit")
async def audit(
    request: Request[Any, Any, Any],
    downstream: NamedDependency[Downstream],
    viewer: NamedDependency[Viewer],
) -> Template:
    """The audit trail with filters (action, actor, target, time)."""
    filters = dict(request.query_params)
    return page(request, "audit.html", await workspace.audit(downstream, viewer, filters))
