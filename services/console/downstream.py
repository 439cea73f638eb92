"""The console's only way out: the other services' HTTP APIs, called with the viewer's token.

Promises: every call is bounded by `request_timeout_s`; a service that is down, slow,
answers 5xx, does not serve the route or answers what its declared answer type
(`contracts.answers`) does not decode becomes a `Failure` naming the service (the page shows
a banner and renders the rest), never an exception. Calls of one page run concurrently
(`gather`). The token travels only in the Authorization header, never in a URL.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Literal

import httpx
import msgspec

from contracts.answers.errors import ErrorAnswer
from services.base.settings import CLIENT_IDLE_S
from services.console.settings import ConsoleSettings

log = logging.getLogger(__name__)

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
        """The service is down, slow, broken, or does not serve this route (a bug)."""
        return self.code in ("unreachable", "not_served") or self.status >= 500

    @property
    def banner(self) -> str:
        """One sentence a person can act on."""
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
            limits=httpx.Limits(
                max_connections=100, max_keepalive_connections=40, keepalive_expiry=CLIENT_IDLE_S
            ),
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
        answer: Any = None,
        answered: frozenset[int] = frozenset(),
    ) -> Reply:
        """One call; the failure shapes the services agree on become a `Failure`.

        With `answer` (a Struct of `contracts.answers`) the body is decoded with it: `data`
        is typed, and an answer it does not decode is a failure (`bad_answer`), not a guess.
        `answered`: error statuses whose body is an answer too (a page action's 422).
        """
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
        if response.status_code >= 400 and response.status_code not in answered:
            return Reply(failure=_failure(service, response))
        if answer is None:
            return Reply(data=response.json() if response.content else None)
        try:
            return Reply(data=msgspec.json.decode(response.content, type=answer))
        except (msgspec.DecodeError, msgspec.ValidationError) as error:
            log.error("unexpected answer", extra={"service": service, "path": path})
            message = f"unexpected answer: {error}"
            return Reply(
                failure=Failure(service=service, status=502, code="bad_answer", message=message)
            )

    async def gather(self, token: str, **calls: tuple[Any, ...]) -> dict[str, Reply]:
        """Run `name=(service, method, path[, params[, answer]])` calls concurrently, by name."""

        async def one(spec: tuple[Any, ...]) -> Reply:
            service, method, path, *rest = spec
            params = rest[0] if rest else None
            answer = rest[1] if len(rest) > 1 else None
            return await self.call(service, method, path, token, params=params, answer=answer)

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
        error = msgspec.json.decode(response.content, type=ErrorAnswer).error
    except (msgspec.DecodeError, msgspec.ValidationError):
        # Not the one error shape: a route this service does not serve (a bug), or a crash.
        not_served = response.status_code in (404, 405)
        return Failure(
            service=service,
            status=response.status_code,
            code="not_served" if not_served else "failed",
            message=f"no such route, HTTP {response.status_code}"
            if not_served
            else f"HTTP {response.status_code}",
        )
    if response.status_code == 405 or (error.code == "not_found" and error.message == "Not Found"):
        # The router's own answer (no handler named the resource): the route is not served.
        return Failure(
            service=service,
            status=response.status_code,
            code="not_served",
            message=f"no such route, HTTP {response.status_code}",
        )
    return Failure(
        service=service,
        status=response.status_code,
        code=error.code,
        message=error.message,
        field=error.field,
        details=error.details if isinstance(error.details, dict) else {},
    )
