"""Extension API routes: `ANY /ext/{installation_id}/{path}` served from the version's route table.

Order of checks, each refusing before any extension code runs: the installation exists
(404; 503 while the snapshot view is still loading), is not uninstalled (410), is enabled
(503 when disabled or pending); the version is the active one, or on
`/ext/{id}/_dev/{session_id}/...` the draft of that dev session only (404 for any other
session: a draft or observation is never reachable on the real URL); a route matches (404)
and exports the method (405 with `Allow`); the webhook endpoint is served only at
`/hooks/...` with its signature scheme; auth (`api_key`: `Authorization: Bearer bfk_...`
of this installation, 401 otherwise; `public`: open); the request body limit (413); the
per-installation rate limit (429 with `Retry-After`). Then the route runs in the runtime
(`script_type=route`, `route` = the route's path pattern in Logs). The answer is the
extension's status, its headers from an allow-list (`nosniff` always; a content type that a
browser would run, such as HTML, SVG or script, is sent as `text/plain`) and its body,
up to the response limit (502 past it); the time limit answers 504, a crash 500.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import msgspec

from contracts.installations import InstallationSnapshot, VersionRef
from contracts.routes import RouteSpec, match_route
from runtime.interface import HttpRequest, InvocationResult, Invoker
from runtime.invocations import new_invocation
from services.base.api_keys import record_use, resolve_api_key
from services.base.dedupe.tick import TickPipeline
from services.base.draft_access import reachable_draft
from services.base.errors import error_body
from services.base.snapshots import SnapshotView
from services.base.tasks import Background
from services.ingress.rate_limit import RateLimiter

RESPONSE_HEADERS = frozenset(
    {
        "cache-control",
        "content-disposition",
        "content-language",
        "content-type",
        "etag",
        "expires",
        "last-modified",
        "link",
        "location",
        "retry-after",
        "vary",
        "x-request-id",
    }
)
# Request headers extension code never sees: credentials of the caller and of the platform.
HIDDEN_REQUEST_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})
# XML is not among them: an XHTML or SVG document in it runs script in a browser.
SAFE_TYPES = ("application/json", "text/plain", "text/csv")
# Whatever a route answers, a browser opening it runs nothing and loads nothing.
ROUTE_CSP = "default-src 'none'; sandbox"
SAFE_TYPE_PREFIXES = (
    "image/png",
    "image/jpeg",
    "image/gif",
    "application/pdf",
    "application/octet-stream",
)


@dataclass
class RouteAnswer:
    """Status, headers and body bytes of one `/ext` call."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def error(status: int, code: str, message: str, **headers: str) -> RouteAnswer:
    """An answer in the house error shape (`Retry-After` and friends as keyword headers)."""
    body = msgspec.json.encode(error_body(code, message))
    named = {k.replace("_", "-"): v for k, v in headers.items()}
    return RouteAnswer(status, body, {"content-type": "application/json", **named})


@dataclass(frozen=True)
class RouteLimits:
    """Body limits of API routes (bytes)."""

    max_request_bytes: int
    max_response_bytes: int


class RouteServer:
    """Serves the extension API routes of every installation this ingress knows."""

    def __init__(
        self,
        *,
        view: SnapshotView,
        invoker: Invoker,
        tick: TickPipeline,
        limiter: RateLimiter,
        limits: RouteLimits,
        background: Background,
    ) -> None:
        self.background = background
        self.view = view
        self.invoker = invoker
        self.tick = tick
        self.limiter = limiter
        self.limits = limits

    async def serve(
        self,
        installation_id: str,
        session_id: str | None,
        method: str,
        path: str,
        headers: Mapping[str, str],
        query: Mapping[str, str],
        body: bytes,
    ) -> RouteAnswer:
        """Answer one call (headers lower-case)."""
        snapshot = self.view.get(installation_id)
        if snapshot is None:
            if not self.view.ready:
                return error(503, "unavailable", "routes are still loading; retry", retry_after="1")
            return error(404, "not_found", "no installation at this URL")
        if snapshot.state == "uninstalled":
            return error(410, "gone", "the installation behind this URL was uninstalled")
        version = _version(snapshot, session_id)
        if version is None:
            return error(404, "not_found", "no draft for this dev session at this URL")
        if snapshot.state != "active":
            return error(
                503, "disabled", f"the installation is {snapshot.state}; its routes do not run"
            )
        found = match_route(version.routes, path)
        if found is None or found[0].webhook:
            return error(404, "not_found", f"no route {path} in this extension")
        route, params = found
        if method not in route.methods:
            allow = ", ".join(route.methods)
            return error(405, "method_not_allowed", f"{route.path} answers {allow}", allow=allow)
        refused = await self._authenticate(route, snapshot, headers)
        if refused is not None:
            return refused
        if len(body) > self.limits.max_request_bytes:
            return error(
                413, "too_large", f"request body over {self.limits.max_request_bytes} bytes"
            )
        wait = await self.limiter.retry_after(installation_id)
        if wait is not None:
            return error(
                429, "rate_limited", "too many calls to this installation", retry_after=str(wait)
            )
        result = await self.invoker.invoke(
            new_invocation(
                snapshot,
                version,
                kind="route",
                entry=route.path,
                mode="active" if session_id is None else "draft",
                script_type="route",
                session_id=session_id,
                request=HttpRequest(
                    method=method,
                    path=path,
                    headers={k: v for k, v in headers.items() if k not in HIDDEN_REQUEST_HEADERS},
                    query=dict(query),
                    body=body,
                    params=params,
                ),
            )
        )
        return self._answer(result)

    async def _authenticate(
        self, route: RouteSpec, snapshot: InstallationSnapshot, headers: Mapping[str, str]
    ) -> RouteAnswer | None:
        if route.auth == "public":
            return None
        scheme, _, secret = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and secret.strip():
            key = await resolve_api_key(self.tick, snapshot.installation_id, secret.strip())
            if key is not None:
                self.background.track(record_use(self.tick, key, time.time()))  # off the path
                return None
        return error(
            401,
            "unauthenticated",
            "this route needs an API key of the installation (Authorization: Bearer bfk_...)",
            www_authenticate="Bearer",
        )

    def _answer(self, result: InvocationResult) -> RouteAnswer:
        if result.outcome == "timeout":
            return error(504, "timeout", result.error or "the route ran out of time")
        response = result.response
        if result.outcome != "ok" or response is None:
            return error(500, "route_failed", result.error or result.outcome)
        status = response.status if 200 <= response.status <= 599 else 500
        headers = {
            k.lower(): str(v) for k, v in response.headers.items() if k.lower() in RESPONSE_HEADERS
        }
        raw = response.body
        if isinstance(raw, bytes | str):
            body = raw.encode() if isinstance(raw, str) else raw
            headers.setdefault("content-type", "text/plain; charset=utf-8")
        else:
            body = msgspec.json.encode(raw)
            headers["content-type"] = "application/json"
        if len(body) > self.limits.max_response_bytes:
            return error(
                502, "too_large", f"the route answered over {self.limits.max_response_bytes} bytes"
            )
        headers["content-type"] = _safe_type(headers["content-type"])
        headers["x-content-type-options"] = "nosniff"
        headers["content-security-policy"] = ROUTE_CSP
        return RouteAnswer(status, body, headers)


def _version(snapshot: InstallationSnapshot, session_id: str | None) -> VersionRef | None:
    """The active version, or on a dev URL the draft of exactly that session."""
    if session_id is None:
        return snapshot.active
    return reachable_draft(snapshot, session_id)


def _safe_type(content_type: str) -> str:
    """The content type as sent, unless a browser would run it (then plain text)."""
    base = content_type.split(";", 1)[0].strip().lower()
    if base in SAFE_TYPES or base.startswith(SAFE_TYPE_PREFIXES):
        return content_type
    return "text/plain; charset=utf-8"
