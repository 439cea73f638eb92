"""HTTP connection hygiene: idle, slow and half-open clients cannot hold a service hostage.

uvicorn closes an idle keep-alive connection after `timeout_keep_alive`, but a connection that
never sends a request (or trickles its request head byte by byte) is kept forever, and each one
holds a file descriptor and counts against `limit_concurrency`. `GuardedHttpToolsProtocol`
gives every request head a deadline: a connection that has not delivered a complete request
line and headers within `header_timeout_s` of connecting (or of its previous response) is
closed. Bodies are bounded separately (each service's body limit answers 413 without reading
the rest), and concurrent connections by `limit_concurrency` (503 past it).
"""

from __future__ import annotations

import asyncio
import resource
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from services.base.settings import HttpLimits


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline on every request head."""

    header_timeout_s: float = 10.0
    _head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._head_deadline is None:  # a pipelined request: its own deadline
            self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()  # the next request head is due within the deadline too

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._head_deadline = self.loop.call_later(self.header_timeout_s, self._head_timed_out)

    def _disarm(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_timed_out(self) -> None:
        self._head_deadline = None
        if self.cycle is None or self.cycle.response_complete:  # never cut a request in flight
            if not self.transport.is_closing():
                self.transport.close()


def protocol_for(limits: HttpLimits) -> type[GuardedHttpToolsProtocol]:
    """The protocol class with this service's header deadline."""
    return type(
        "ServiceHttpProtocol",
        (GuardedHttpToolsProtocol,),
        {"header_timeout_s": limits.header_timeout_s},
    )


def uvicorn_limits(limits: HttpLimits) -> dict[str, Any]:
    """uvicorn.Config options bounding connections, idle time and request heads."""
    return {
        "http": protocol_for(limits),
        "limit_concurrency": limits.limit_concurrency,
        "timeout_keep_alive": limits.keep_alive_s,
        "backlog": limits.backlog,
        "h11_max_incomplete_event_size": limits.max_head_bytes,
    }


def raise_open_files_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit (each connection is a descriptor)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            return target
        except (ValueError, OSError):
            return soft
    return soft
