"""HTTP in: sign in with an API token (or the bootstrap link), sign out."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect, Template

from services.console.downstream import Downstream
from services.console.routes.responses import form_of, page
from services.console.service.actions import safe_back
from services.console.service.viewer import Viewer
from services.console.service.workspace import sign_in


def safe_next(target: Any) -> str:
    """Only a local path: an open redirect would let a link send a signed-in admin anywhere."""
    return safe_back(target, "/extensions")


@get("/", include_in_schema=False)
async def home() -> Redirect:
    """Settings → Extensions is the dashboard's home."""
    return Redirect("/extensions", status_code=303)


@get("/sign-in", include_in_schema=False)
async def sign_in_page(request: Request[Any, Any, Any]) -> Template:
    """The token form. The bootstrap link carries its token in the URL fragment, which the
    browser never sends: a small script moves it into this form and submits it."""
    return page(request, "sign_in.html", {"next": safe_next(request.query_params.get("next"))})


@post("/sign-in", include_in_schema=False)
async def sign_in_submit(
    request: Request[Any, Any, Any], downstream: NamedDependency[Downstream]
) -> Template | Redirect:
    """Check the token with the registry; keep it only inside the encrypted session cookie."""
    form = await form_of(request)
    viewer = await sign_in(downstream, str(form.get("token") or ""))
    if not isinstance(viewer, Viewer):
        request.clear_session()
        return page(
            request, "sign_in.html", {"error": viewer.banner, "next": safe_next(form.get("next"))}
        )
    request.set_session({"viewer": viewer.to_session()})
    return Redirect(safe_next(form.get("next")), status_code=303)


@post("/sign-out", include_in_schema=False)
async def sign_out(request: Request[Any, Any, Any]) -> Redirect:
    """Forget the session (the API token itself stays valid until revoked)."""
    request.clear_session()
    return Redirect("/sign-in", status_code=303)
