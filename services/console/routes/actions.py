"""HTTP in: the forms of the installation page. Each posts, calls one API, redirects back.

Every route here is a POST behind the CSRF check; members never see the forms, and the
services answer 403 to a member who posts anyway (the flash then says so).
"""

from __future__ import annotations

from typing import Any

from litestar import Request, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from services.base.errors import NotFound
from services.console.downstream import Downstream
from services.console.routes.responses import back, form_of, page
from services.console.service import actions, setup
from services.console.service import installation as tabs
from services.console.service.viewer import Viewer

BASE = "/installations/{installation_id:str}"


@post(f"{BASE}/settings")
async def save_settings(
    request: Request[Any, Any, Any],
    downstream: NamedDependency[Downstream],
    viewer: NamedDependency[Viewer],
    installation_id: FromPath[str],
) -> Template | Redirect:
    """Save, Test connection or Activate; a refusal re-renders the form with field errors."""
    form = await form_of(request)
    done = await setup.save_settings(downstream, viewer, installation_id, form)
    if done.keep_form or (done.failure is not None and done.failure.status < 500):
        context = await tabs.settings_tab(
            downstream, viewer, installation_id, form, done.failure, typed=done.keep_form
        )
        if done.failure is None:
            context["flash"] = {"ok": done.ok, "message": done.message}
        return page(request, "installation/settings.html", context)
    return back(request, f"/installations/{installation_id}/settings", done)


@post(f"{BASE}/action/{{name:str}}")
async def installation_action(
    request: Request[Any, Any, Any],
    downstream: NamedDependency[Downstream],
    viewer: NamedDependency[Viewer],
    installation_id: FromPath[str],
    name: FromPath[str],
) -> Redirect:
    """disable, enable, promote, upgrade, rollback, uninstall, rotate_webhook, retest."""
    form = await form_of(request)
    if name not in actions.INSTALLATION_ACTIONS:
        name = "unknown"
    body = actions.body_of(name, form)
    done = await actions.run(
        downstream, viewer, name, installation_id, body=body, **actions.params_of(form)
    )
    return back(request, actions.after(name, installation_id, done, form), done)


@post(f"{BASE}/secrets/{{secret:str}}")
async def put_secret(
    request: Request[Any, Any, Any],
    downstream: NamedDependency[Downstream],
    viewer: NamedDependency[Viewer],
    installation_id: FromPath[str],
    secret: FromPath[str],
) -> Redirect:
    """Set or rotate (or revoke with `intent=revoke`); the value is never echoed back."""
    form = await form_of(request)
    name = "revoke_secret" if form.get("intent") == "revoke" else "put_secret"
    body = None if name == "revoke_secret" else {"value": str(form.get("value") or "")}
    done = await actions.run(downstream, viewer, name, installation_id, body=body, name=secret)
    return back(request, f"/installations/{installation_id}/secrets", done)


@post(f"{BASE}/streams/{{stream:str}}/{{verb:str}}")
async def stream_action(
    request: Request[Any, Any, Any],
    downstream: NamedDependency[Downstream],
    viewer: NamedDependency[Viewer],
    installation_id: FromPath[str],
    stream: FromPath[str],
    verb: FromPath[str],
) -> Redirect:
    """Sync now (`run`), `reset` the cursor, or `restore` an earlier cursor entry."""
    form = await form_of(request)
    name = {"run": "run_stream", "reset": "reset_stream", "restore": "restore_cursor"}.get(verb)
    if name is None:
        raise NotFound(f"no stream action {verb!r}", field="verb")
    done = await actions.run(
        downstream,
        viewer,
        name,
        installation_id,
        stream=stream,
        entry_id=str(form.get("entry_id") or ""),
    )
    return back(request, f"/installations/{installation_id}/connection", done)


@post(f"{BASE}/deliveries/replay")
async def replay_range(
    request: Request[Any, Any, Any],
    downstream: NamedDependency[Downstream],
    viewer: NamedDependency[Viewer],
    installation_id: FromPath[str],
) -> Redirect:
    """Replay every delivery received in a time range."""
    body = actions.range_body(await form_of(request))
    if isinstance(body, dict):
        done = await actions.run(downstream, viewer, "replay_range", installation_id, body=body)
    else:
        done = actions.Done(ok=False, message=body.message)
    return back(request, f"/installations/{installation_id}/deliveries", done)


@post(f"{BASE}/deliveries/{{delivery_id:str}}/replay")
async def replay_one(
    request: Request[Any, Any, Any],
    downstream: NamedDependency[Downstream],
    viewer: NamedDependency[Viewer],
    installation_id: FromPath[str],
    delivery_id: FromPath[str],
) -> Redirect:
    done = await actions.run(
        downstream, viewer, "replay", installation_id, body={}, delivery_id=delivery_id
    )
    return back(request, f"/installations/{installation_id}/deliveries", done)


@post("/alerts/destinations")
async def add_destination(
    request: Request[Any, Any, Any],
    downstream: NamedDependency[Downstream],
    viewer: NamedDependency[Viewer],
) -> Redirect:
    form = await form_of(request)
    done = await actions.add_destination(downstream, viewer, form)
    return back(request, actions.safe_back(form.get("back")), done)


@post("/alerts/destinations/{destination_id:str}/{verb:str}")
async def destination_action(
    request: Request[Any, Any, Any],
    downstream: NamedDependency[Downstream],
    viewer: NamedDependency[Viewer],
    destination_id: FromPath[str],
    verb: FromPath[str],
) -> Redirect:
    form = await form_of(request)
    name = {"delete": "delete_destination", "test": "test_destination"}.get(verb)
    if name is None:
        raise NotFound(f"no destination action {verb!r}", field="verb")
    done = await actions.run(downstream, viewer, name, id=destination_id)
    return back(request, actions.safe_back(form.get("back")), done)


ACTION_ROUTES = [
    save_settings,
    installation_action,
    put_secret,
    stream_action,
    replay_range,
    replay_one,
    add_destination,
    destination_action,
]
