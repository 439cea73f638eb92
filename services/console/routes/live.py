"""HTTP in: the live log tail and the OAuth round trip, both proxied so no token leaves.

The browser's EventSource talks to the console (same origin, session cookie); the console
opens the logs service's SSE stream with the viewer's token and relays its bytes as they
arrive. When the logs service is unavailable the stream sends one `unavailable` event.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, ServerSentEvent

from contracts.answers.registry import OAuthStart
from services.console.downstream import Downstream
from services.console.routes.responses import back, session_of
from services.console.service import installation as tabs
from services.console.service.actions import Done
from services.console.service.viewer import Viewer

BASE = "/installations/{installation_id:str}"


@get(f"{BASE}/logs/stream")
async def tail_logs(
    request: Request[Any, Any, Any],
    downstream: NamedDependency[Downstream],
    viewer: NamedDependency[Viewer],
    installation_id: FromPath[str],
) -> ServerSentEvent:
    """Server-sent events relayed from `GET /v1/installations/{id}/logs/stream`."""
    params = {k: request.query_params.get(k) for k in tabs.LOG_FILTERS}
    return ServerSentEvent(relay(downstream, viewer, installation_id, params))


async def relay(
    downstream: Downstream, viewer: Viewer, installation_id: str, params: dict[str, Any]
) -> AsyncIterator[str]:
    """Log lines (`line` events) as they arrive; `dropped` or a failure ends the tail."""
    path = f"/v1/installations/{installation_id}/logs/stream"
    try:
        async with downstream.stream("logs", path, viewer.token, params) as response:
            if response.status_code != 200:
                yield _unavailable(f"HTTP {response.status_code}")
                return
            event = "message"
            async for raw in response.aiter_lines():
                if raw.startswith("event:"):
                    event = raw[6:].strip()
                elif raw.startswith("data:") and event in ("line", "message"):
                    yield raw[5:].strip()
                elif raw.startswith("data:") and event == "dropped":
                    yield _unavailable("the tail fell behind; start it again")
                    return
                elif not raw:
                    event = "message"
    except httpx.HTTPError:
        yield _unavailable("unreachable")


def _unavailable(reason: str) -> str:
    return '{"unavailable": "The logs service is not available right now (' + reason + ')."}'


@post(f"{BASE}/oauth/start")
async def start_oauth(
    request: Request[Any, Any, Any],
    downstream: NamedDependency[Downstream],
    viewer: NamedDependency[Viewer],
    installation_id: FromPath[str],
) -> Redirect:
    """Connect: off to the provider; the callback comes back to this installation's page."""
    reply = await downstream.call(
        "registry",
        "POST",
        f"/v1/installations/{installation_id}/oauth/start",
        viewer.token,
        answer=OAuthStart,
    )
    if reply.failure is not None:
        done = Done(ok=False, message=reply.failure.banner)
        return back(request, f"/installations/{installation_id}/settings", done)
    request.set_session({**session_of(request), "oauth_installation": installation_id})
    return Redirect(reply.data.authorization_url, status_code=303)


@get("/oauth/callback")
async def oauth_callback(
    request: Request[Any, Any, Any],
    downstream: NamedDependency[Downstream],
    viewer: NamedDependency[Viewer],
) -> Redirect:
    """The provider's redirect: hand code and state to the registry, back to the page."""
    installation_id = str(session_of(request).get("oauth_installation") or "")
    params = {k: request.query_params.get(k) for k in ("code", "state")}
    reply = await downstream.call(
        "registry", "GET", "/v1/oauth/callback", viewer.token, params=params
    )
    if reply.failure is not None:
        done = Done(ok=False, message=f"Connecting failed: {reply.failure.message}")
    else:
        done = Done(ok=True, message="Connected: the provider authorized this connection.")
    target = f"/installations/{installation_id}/settings" if installation_id else "/extensions"
    return back(request, target, done)
