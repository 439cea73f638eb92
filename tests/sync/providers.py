"""Local providers for sync tests: a Stripe-like paged list API and an OAuth2 token server.

Real HTTP servers (served by uvicorn through `tests.harness.serving`); they count what they
were asked so tests can assert on provider-side behaviour (pages fetched, concurrency,
refresh requests, 429 handling).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from litestar import Litestar, Request, Response, get, post
from litestar.params import FromPath

STRIPE_PATHS = ("customers", "charges", "invoices", "subscriptions", "payment_intents", "refunds")
BASE_CREATED = 1_700_000_000


@dataclass
class PagedProvider:
    """Stripe's list API: newest first, `limit`, `starting_after`, `created[gt]`, `has_more`.

    Only `key` is accepted as the bearer token (other tests' installations get 401), so every
    counter here is this test's own.
    """

    key: str
    customers: int = 250
    delay_s: float = 0.0
    rate_limited: int = 0  # answer this many requests 429 with Retry-After first
    retry_after_s: float = 1.0
    requests: int = 0
    served: list[tuple[str | None, int]] = field(default_factory=list)  # (starting_after, n)
    served_ids: list[str] = field(default_factory=list)  # every customer handed out, in order
    in_flight: int = 0
    max_in_flight: int = 0
    concurrent_same_page: int = 0
    times: list[float] = field(default_factory=list)
    limited_at: list[float] = field(default_factory=list)
    calls: list[tuple[str, float, int]] = field(default_factory=list)  # (kind, at, status)
    on_page: Callable[[int], Awaitable[None]] | None = None
    _pages_open: dict[str, int] = field(default_factory=dict)
    token_check: Callable[[str], bool] | None = None

    def objects(self) -> list[dict[str, Any]]:
        """Every customer, newest first."""
        return [
            {
                "id": f"cus_{i:05d}",
                "object": "customer",
                "created": BASE_CREATED + i,
                "email": f"c{i}@example.com",
                "name": f"Customer {i}",
            }
            for i in reversed(range(self.customers))
        ]

    def app(self) -> Litestar:
        provider = self

        @get("/v1/{kind:str}")
        async def listing(kind: FromPath[str], request: Request) -> Response:
            authorized = request.headers.get("authorization", "")
            check = provider.token_check or (lambda t: t == f"Bearer {provider.key}")
            if not check(authorized):
                return Response({"error": {"type": "invalid_request_error"}}, status_code=401)
            provider.requests += 1
            provider.times.append(time.monotonic())
            if provider.rate_limited > 0:
                provider.rate_limited -= 1
                provider.limited_at.append(time.monotonic())
                provider.calls.append((kind, time.monotonic(), 429))
                return Response(
                    {"error": {"type": "rate_limit"}},
                    status_code=429,
                    headers={"retry-after": f"{provider.retry_after_s:g}"},
                )
            provider.calls.append((kind, time.monotonic(), 200))
            if kind != "customers":
                return Response({"object": "list", "data": [], "has_more": False})
            limit = int(request.query_params.get("limit", 10))
            after = request.query_params.get("starting_after")
            since = request.query_params.get("created[gt]")
            found = provider.objects()
            if since:
                found = [o for o in found if o["created"] > int(since)]
            if after:
                ids = [o["id"] for o in found]
                found = found[ids.index(after) + 1 :] if after in ids else []
            page = found[:limit]
            page_key = f"{since}:{after}"
            provider._pages_open[page_key] = provider._pages_open.get(page_key, 0) + 1
            provider.in_flight += 1
            provider.max_in_flight = max(provider.max_in_flight, provider.in_flight)
            if provider._pages_open[page_key] > 1:
                provider.concurrent_same_page += 1
            try:
                provider.served.append((after, len(page)))
                provider.served_ids.extend(o["id"] for o in page)
                if provider.on_page is not None:
                    await provider.on_page(len(provider.served))
                if provider.delay_s:
                    await asyncio.sleep(provider.delay_s)
            finally:
                provider.in_flight -= 1
                provider._pages_open[page_key] -= 1
            return Response({"object": "list", "data": page, "has_more": len(found) > limit})

        return Litestar([listing])


@dataclass
class OAuthServer:
    """An OAuth2 token endpoint: refresh_token grants; any other refresh token → invalid_grant.

    Counts only the grants of its own refresh token (`refreshes`) and the refused ones
    (`refused`), so installations of earlier tests that a sync replica still polls do not
    blur a test's counts.
    """

    refresh_token: str = field(default_factory=lambda: f"rt_{time.monotonic_ns()}")
    refreshes: int = 0
    refused: list[str] = field(default_factory=list)
    delay_s: float = 0.2
    issued: list[str] = field(default_factory=list)

    def accepts(self, authorization: str) -> bool:
        """Whether a bearer header carries a token this server issued."""
        return authorization.removeprefix("Bearer ") in self.issued

    def app(self) -> Litestar:
        server = self

        @post("/oauth/token", status_code=200)
        async def token(request: Request) -> Response:
            form = await request.form()
            if form.get("grant_type") != "refresh_token":
                return Response({"error": "unsupported_grant_type"}, status_code=400)
            given = str(form.get("refresh_token"))
            await asyncio.sleep(server.delay_s)  # a slow provider widens the race window
            if given != server.refresh_token:
                server.refused.append(given)
                return Response({"error": "invalid_grant"}, status_code=400)
            server.refreshes += 1
            access = f"at_{server.refresh_token}_{server.refreshes}"
            server.issued.append(access)
            return Response({"access_token": access, "token_type": "bearer", "expires_in": 3600})

        return Litestar([token])
