"""The replica session's plumbing: a tiny round-robin HTTP balancer, and a Stripe-like
upstream that knows which sync replica called it.

`RoundRobin` stands in for the load balancer in front of ingress and the registry: request
n goes to backend n mod N; a backend that refuses the connection (a killed replica) is
skipped for that request, as a load balancer's passive health check does; a backend that dies
mid-request is answered 502 (the client retries, as providers and the CLI do).

`Upstream` serves one `PagedProvider` per installation (routed by the bearer key) on one port
per sync replica, so every list call is attributed to the replica that made it.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from services.base.settings import CLIENT_IDLE_S
from tests.robustness.crash import served_in_thread
from tests.sync.providers import PagedProvider

HOP_BY_HOP = {"host", "content-length", "transfer-encoding", "connection", "content-encoding"}


class RoundRobin:
    """An ASGI app forwarding each request to the next live backend."""

    def __init__(self, backends: list[str]) -> None:
        self.backends = backends
        self.served: Counter[str] = Counter()  # answers per backend
        self.refused: Counter[str] = Counter()  # connections refused per backend
        self._next = 0
        self._client: httpx.AsyncClient | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            # as the console's client: an idle connection goes before the replica closes it
            limits = httpx.Limits(keepalive_expiry=CLIENT_IDLE_S)
            self._client = httpx.AsyncClient(timeout=30, limits=limits)
            return await _lifespan(receive, send, on_shutdown=self._client.aclose)
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = scope["path"] + (
            f"?{scope['query_string'].decode()}" if scope["query_string"] else ""
        )
        headers = [
            (k.decode(), v.decode()) for k, v in scope["headers"] if k.decode() not in HOP_BY_HOP
        ]
        assert self._client is not None
        for _ in self.backends:
            backend = self.backends[self._next % len(self.backends)]
            self._next += 1
            try:
                answer = await self._client.request(
                    scope["method"], backend + path, headers=headers, content=body
                )
            except httpx.ConnectError:
                self.refused[backend] += 1
                continue
            except httpx.HTTPError:
                await _respond(send, 502, [], b"backend died mid-request")
                return
            self.served[backend] += 1
            out = [(k, v) for k, v in answer.headers.multi_items() if k.lower() not in HOP_BY_HOP]
            await _respond(send, answer.status_code, out, answer.content)
            return
        await _respond(send, 502, [], b"no live backend")


async def _lifespan(receive: Any, send: Any, on_shutdown: Any = None) -> None:
    while (await receive())["type"] == "lifespan.startup":
        await send({"type": "lifespan.startup.complete"})
    if on_shutdown is not None:
        await on_shutdown()  # before answering: the server cancels the app once answered
    await send({"type": "lifespan.shutdown.complete"})


async def _respond(send: Any, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
    raw = [(k.encode(), v.encode()) for k, v in headers]
    raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


@dataclass
class Call:
    """One list call an installation's provider answered."""

    replica: str
    started: float
    ended: float = 0.0


@dataclass
class Upstream:
    """One Stripe-like provider per installation key; calls attributed to sync replicas."""

    providers: dict[str, PagedProvider]  # bearer key → provider
    calls: dict[str, list[Call]] = field(default_factory=dict)  # key → calls, in order
    # (key, stream) → replicas calling it now; a call while another replica's call of the same
    # installation's stream runs is that stream running twice at once.
    in_flight: dict[str, set[str]] = field(default_factory=dict)
    cross_replica_overlaps: int = 0

    def app(self, replica: str) -> Any:
        apps = {key: provider.app() for key, provider in self.providers.items()}

        async def dispatch(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] == "lifespan":
                return await _lifespan(receive, send)
            headers = dict(scope["headers"])
            key = headers.get(b"authorization", b"").decode().removeprefix("Bearer ")
            if key not in apps:
                return await _respond(send, 401, [], b"unknown key")
            running = self.in_flight.setdefault(f"{key} {scope['path']}", set())  # one stream
            if running - {replica}:
                self.cross_replica_overlaps += 1
            call = Call(replica, time.monotonic())
            self.calls.setdefault(key, []).append(call)
            running.add(replica)
            try:
                await apps[key](scope, receive, send)
            finally:
                running.discard(replica)
                call.ended = time.monotonic()
            return None

        return dispatch


@contextlib.contextmanager
def served_apps(apps: list[Any]) -> Iterator[list[str]]:
    """Serve ASGI apps, each from a thread and event loop of its own; yield their URLs."""
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(served_in_thread(app)) for app in apps]
