"""The console's only way out: the other services' HTTP APIs, called with the viewer's token.

Promises: every call is bounded by `request_timeout_s`; a service that is down, slow,
answers 5xx or does not serve a route yet becomes a `Failure` naming the service (the page
shows a banner and renders the rest), never an exception. Calls of one page run concurrently
(`gather`). The token travels only in the Authorization header, never in a URL.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Literal

import httpx
import msgspec

from services.console.settings import ConsoleSettings

Service = Literal["registry", "ingress", "sync", "logs"]
LABELS: dict[Service, str] = {
    "registry": "The registry",
    "ingress": "Webhook ingress",
    "sync": "The sync service",
    "logs": "The logs service",
}


class Failure(msgspec.Struct, frozen=True, kw_only=True):
    """Why a downstream call gave no data: `unavailable` ones become page banners."""

    service: Service
    status: int
    code: str
    message: str
    field: str | None = None
    details: dict[str, Any] = {}

    @property
    def unavailable(self) -> bool:
        """The service is down, slow, broken, or does not serve this route (yet)."""
        return self.code in ("unreachable", "not_available") or self.status >= 500

    @property
    def banner(self) -> str:
        """One sentence a person can act on."""
        if self.code == "not_available":
            return f"{LABELS[self.service]} does not offer part of this page yet."
        if self.unavailable:
            return f"{LABELS[self.service]} is not available right now ({self.message})."
        return self.message


class Reply(msgspec.Struct, frozen=True, kw_only=True):
    """The data of a call, or its failure."""

    data: Any = None
    failure: Failure | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None


class Downstream:
    """One pooled HTTP client for every service the console aggregates."""

    def __init__(self, settings: ConsoleSettings) -> None:
        self.urls: dict[Service, str] = {
            "registry": settings.registry_url.rstrip("/"),
            "ingress": settings.ingress_url.rstrip("/"),
            "sync": settings.sync_url.rstrip("/"),
            "logs": settings.logs_url.rstrip("/"),
        }
        self.timeout = settings.request_timeout_s
        self.client = httpx.AsyncClient(
            timeout=settings.request_timeout_s,
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=40),
        )

    async def close(self) -> None:
        await self.client.aclose()

    async def call(
        self,
        service: Service,
        method: str,
        path: str,
        token: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> Reply:
        """One call; the failure shapes the services agree on become a `Failure`."""
        try:
            response = await self.client.request(
                method,
                f"{self.urls[service]}{path}",
                headers={"authorization": f"Bearer {token}"},
                json=json,
                params={k: v for k, v in (params or {}).items() if v not in (None, "")},
            )
        except httpx.HTTPError as error:
            reason = "timed out" if isinstance(error, httpx.TimeoutException) else "unreachable"
            return Reply(
                failure=Failure(service=service, status=0, code="unreachable", message=reason)
            )
        if response.status_code < 400:
            return Reply(data=response.json() if response.content else None)
        return Reply(failure=_failure(service, response))

    async def gather(self, token: str, **calls: tuple[Any, ...]) -> dict[str, Reply]:
        """Run `name=(service, method, path[, params])` calls concurrently; replies by name."""

        async def one(spec: tuple[Any, ...]) -> Reply:
            service, method, path, *rest = spec
            return await self.call(service, method, path, token, params=rest[0] if rest else None)

        replies = await asyncio.gather(*(one(spec) for spec in calls.values()))
        return dict(zip(calls, replies, strict=True))

    @asynccontextmanager
    async def stream(
        self, service: Service, path: str, token: str, params: Mapping[str, Any]
    ) -> AsyncIterator[httpx.Response]:
        """A streaming GET (server-sent events): no read timeout, the caller ends it."""
        timeout = httpx.Timeout(self.timeout, read=None)
        async with self.client.stream(
            "GET",
            f"{self.urls[service]}{path}",
            headers={"authorization": f"Bearer {token}", "accept": "text/event-stream"},
            params={k: v for k, v in params.items() if v not in (None, "")},
            timeout=timeout,
        ) as response:
            yield response


def _failure(service: Service, response: httpx.Response) -> Failure:
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        # No agreed error shape: a route this service does not serve (yet), or a crash.
        not_served = response.status_code in (404, 405)
        return Failure(
            service=service,
            status=response.status_code,
            code="not_available" if not_served else "failed",
            message="it does not serve this yet" if not_served else f"HTTP {response.status_code}",
        )
    code = str(error.get("code", "failed"))
    if response.status_code == 405 or (code == "not_found" and error.get("message") == "Not Found"):
        # The router's own answer (no handler named the resource): the route is not served.
        return Failure(
            service=service,
            status=response.status_code,
            code="not_available",
            message="it does not serve this yet",
        )
    return Failure(
        service=service,
        status=response.status_code,
        code=code,
        message=str(error.get("message", "")),
        field=error.get("field"),
        details=error.get("details") or {},
    )
