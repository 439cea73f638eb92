"""HTTP in: Installed, Catalog, a catalog entry and Install."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from services.console.downstream import Downstream
from services.console.routes.responses import back, form_of, page
from services.console.service import extensions
from services.console.service.actions import Done
from services.console.service.viewer import Viewer


@get("/extensions")
async def installed(
    request: Request[Any, Any, Any],
    downstream: NamedDependency[Downstream],
    viewer: NamedDependency[Viewer],
) -> Template:
    """Installed: one row per installation with version, state and recent activity."""
    return page(request, "installed.html", await extensions.installed(downstream, viewer))


@get("/extensions/catalog")
async def catalog(
    request: Request[Any, Any, Any],
    downstream: NamedDependency[Downstream],
    viewer: NamedDependency[Viewer],
) -> Template:
    """Catalog: first-party connectors and the workspace's private extensions."""
    return page(request, "catalog.html", await extensions.catalog(downstream, viewer))


@get("/extensions/catalog/{key:str}")
async def catalog_entry(
    request: Request[Any, Any, Any],
    downstream: NamedDependency[Downstream],
    viewer: NamedDependency[Viewer],
    key: FromPath[str],
) -> Template:
    """The manifest summary and Install."""
    context = await extensions.catalog_entry(downstream, viewer, key)
    return page(request, "catalog_entry.html", context)


@post("/extensions/catalog/{key:str}/install")
async def install(
    request: Request[Any, Any, Any],
    downstream: NamedDependency[Downstream],
    viewer: NamedDependency[Viewer],
    key: FromPath[str],
) -> Template | Redirect:
    """Install, then continue with the installation's setup; refusals next to their field."""
    form = await form_of(request)
    created, failure = await extensions.install(downstream, viewer, key, form)
    if created is None:
        context = await extensions.catalog_entry(downstream, viewer, key, form, failure)
        return page(request, "catalog_entry.html", context)
    done = Done(ok=True, message=extensions.installed_message(created))
    return back(request, f"/installations/{created.id}/settings", done)
