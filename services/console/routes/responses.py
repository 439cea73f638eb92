"""How console routes answer: pages with the viewer and flash, redirects after actions.

Security: the session (viewer with API token) lives in an AES-GCM encrypted, HttpOnly,
SameSite=Lax cookie; templates get the viewer's role and email, never the token.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Request, Response
from litestar.response import Redirect, Template

from services.console.service.actions import Done
from services.console.service.viewer import Viewer


class SignInRequired(Exception):
    """No (valid) session: the browser goes to the sign-in page and comes back after."""


def session_of(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """A copy of the session (empty when there is none, or after it was cleared)."""
    session = request.scope.get("session")
    return dict(session) if isinstance(session, dict) else {}


def provide_viewer(request: Request[Any, Any, Any]) -> Viewer:
    """The signed-in viewer (a dependency of every page but sign-in)."""
    viewer = Viewer.from_session(session_of(request))
    if viewer is None:
        raise SignInRequired
    return viewer


def sign_in_redirect(request: Request[Any, Any, Any], _: SignInRequired) -> Response[Any]:
    """To the sign-in page; htmx requests are told to navigate instead of swapping a page in."""
    target = "/sign-in"
    if request.method == "GET" and request.url.path not in ("/", "/sign-in"):
        target += f"?next={quote(request.url.path)}"
    if request.headers.get("hx-request"):
        return Response("", status_code=200, headers={"HX-Redirect": target})
    return Redirect(target, status_code=303)


def page(request: Request[Any, Any, Any], template: str, context: dict[str, Any]) -> Template:
    """Render `template` with the viewer, the one-time flash message and the active nav."""
    session = session_of(request)
    flash = session.pop("flash", None)
    if flash is not None:
        request.set_session(session)
    return Template(
        template_name=template,
        context={
            **context,
            "viewer": Viewer.from_session(session),
            "flash": flash or context.get("flash"),
            "path": request.url.path,
        },
    )


def partial(template: str, context: dict[str, Any]) -> Template:
    """An htmx fragment (no layout)."""
    return Template(template_name=template, context=context)


def back(request: Request[Any, Any, Any], to: str, done: Done) -> Redirect:
    """Post/Redirect/Get: the outcome travels as a flash message in the session."""
    session = session_of(request)
    session["flash"] = {"ok": done.ok, "message": done.message}
    request.set_session(session)
    return Redirect(to, status_code=303)


async def form_of(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The submitted form as a plain dict (the CSRF field dropped)."""
    form = await request.form()
    return {k: v for k, v in form.items() if k != "_csrf_token"}
