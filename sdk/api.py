"""File-routed HTTP handlers: `POST = api(handler)` and `api.json(body, status=)`.

A route file (manifest `webhooks.endpoint` `/webhooks/stripe` → `src/api/webhooks/stripe.py`)
exports `config = {"auth": ...}` and one `api(...)`-wrapped handler per HTTP method. The
handler gets a `Request` and returns `api.json(...)` (a bare dict means 200 JSON). It may be
sync or async; by the time a signed webhook's handler runs, the platform has verified it.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec


class HttpRequest(msgspec.Struct, frozen=True, kw_only=True):
    """An HTTP request handed to a route handler (headers lower-case, raw body)."""

    method: str = "POST"
    path: str
    headers: dict[str, str] = {}
    query: dict[str, str] = {}
    body: bytes = b""
    params: dict[str, str] = {}  # an API route's path parameters (`[id].py` → `id`)


class HttpResponse(msgspec.Struct, frozen=True, kw_only=True):
    """What a route handler answered (`api.json(body, status=)`)."""

    status: int = 200
    body: Any = None
    # API routes: headers the platform passes on (an allow-list); a str/bytes body is sent as is.
    headers: dict[str, str] = {}


@dataclass(frozen=True)
class Request:
    """What a route handler receives: `.body` is the parsed JSON (None if not JSON)."""

    method: str
    path: str
    raw_body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)

    @property
    def body(self) -> Any:
        """The body decoded as JSON, or None when it is empty or not JSON."""
        if not self.raw_body:
            return None
        try:
            return msgspec.json.decode(self.raw_body)
        except msgspec.DecodeError:
            return None


Handler = Callable[[Request], "HttpResponse | dict[str, Any] | Awaitable[Any]"]


class Route:
    """A handler registered with `api(...)`; the runtime calls it with a `Request`."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.__doc__ = handler.__doc__

    async def __call__(self, request: Request) -> HttpResponse:
        """Run the handler and normalise what it returned into an `HttpResponse`."""
        result = self.handler(request)
        if inspect.isawaitable(result):
            result = await result
        if isinstance(result, HttpResponse):
            return result
        if result is None or isinstance(result, dict | list):
            return HttpResponse(status=200, body=result)
        raise TypeError(f"handler returned {type(result).__name__}; return api.json(...)")


class _Api:
    """`api(handler)` registers a handler; `api.json(body, status=)` builds its response."""

    def __call__(self, handler: Handler) -> Route:
        """Mark `handler` as a route handler (export it as `POST`, `GET`, ...)."""
        return Route(handler)

    @staticmethod
    def json(
        body: Any, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> HttpResponse:
        """A JSON response with `status` (and headers from the platform's allow-list)."""
        return HttpResponse(
            status=status, body=msgspec.to_builtins(body), headers=dict(headers or {})
        )

    @staticmethod
    def text(
        body: str, status: int = 200, content_type: str = "text/plain; charset=utf-8"
    ) -> HttpResponse:
        """A text response (`content_type` such as `text/csv`), sent as is."""
        return HttpResponse(status=status, body=body, headers={"content-type": content_type})


api = _Api()
