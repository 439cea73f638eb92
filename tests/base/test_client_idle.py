"""Clients of our own services let an idle connection go before the service closes it.

A service closes a keep-alive connection idle for `HTTP_KEEP_ALIVE_S` (5 s). A client that
keeps it as long writes its next request, now and then, on a connection the server is closing
at that instant, and gets a read error: a POST from the console or the CLI failed that way
(seen in CI). The console's and the CLI's clients drop a connection idle `CLIENT_IDLE_S`, well
before; a request after that idle time opens a new connection, one sooner reuses it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from litestar import Litestar, Request, get

from cli.api import Api
from cli.config import Target
from services.base.connections import uvicorn_limits
from services.base.settings import CLIENT_IDLE_S, HttpLimits
from services.console.downstream import Downstream
from services.console.settings import ConsoleSettings
from tests.harness import serving


@get("/v1/peer", sync_to_thread=False)
def peer(request: Request) -> dict[str, int]:
    """The client's port: a new port is a new connection."""
    assert request.client is not None
    return {"port": request.client.port}


@pytest_asyncio.fixture
async def service() -> AsyncIterator[str]:
    """A server with a service's own connection limits (keep-alive 5 s)."""
    async with serving(Litestar([peer]), **uvicorn_limits(HttpLimits())) as url:
        yield url


def test_clients_let_go_before_any_service_does_by_default() -> None:
    assert CLIENT_IDLE_S * 2 <= HttpLimits().keep_alive_s


async def test_the_consoles_client_opens_a_new_connection_after_idling(service: str) -> None:
    downstream = Downstream(ConsoleSettings(registry_url=service))
    try:

        async def port() -> int:
            reply = await downstream.call("registry", "GET", "/v1/peer", "token")
            assert reply.ok, reply.failure
            return int(reply.data["port"])

        first = await port()
        assert await port() == first  # pooled while in use
        await asyncio.sleep(CLIENT_IDLE_S + 0.5)  # well inside the server's 5 s
        assert await port() != first
    finally:
        await downstream.close()


@pytest.mark.parametrize("idle", [0.0, CLIENT_IDLE_S + 0.5])
async def test_the_clis_client_opens_a_new_connection_after_idling(
    service: str, idle: float
) -> None:
    api = Api(Target("token", "--token", {"registry": service}))

    def port() -> int:
        return int(api.request("registry", "GET", "/v1/peer").json()["port"])

    def twice() -> tuple[int, int]:
        first = port()
        time.sleep(idle)
        return first, port()

    first, second = await asyncio.to_thread(twice)
    assert (second == first) == (idle == 0.0)
