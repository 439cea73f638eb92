"""Server-sent events for the live tail: one `line` event per log line, a comment as heartbeat.

When the hub drops a slow client, the stream ends with a `dropped` event: the client
reconnects (and may fill the gap with the query API).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec
from litestar.response import ServerSentEvent, ServerSentEventMessage
from litestar.types import SSEData

from services.logs.service.logs import LogsService
from services.logs.service.queries import LogFilter


def tail_response(logs: LogsService, query: LogFilter) -> ServerSentEvent:
    """Subscribe now (before the response starts) so no line published after it is missed."""
    subscription = logs.open_tail(query)

    async def events() -> AsyncIterator[SSEData]:
        try:
            yield {"event": "ready", "data": "{}"}
            while True:
                line = await subscription.next(logs.tail_heartbeat_s)
                if line is not None:
                    yield {
                        "event": "line",
                        "id": line.log_id,
                        "data": msgspec.json.encode(line).decode(),
                    }
                elif subscription.dropped:
                    yield {"event": "dropped", "data": '{"reason": "client too slow"}'}
                    return
                else:
                    yield ServerSentEventMessage(comment="keep-alive")
        finally:
            logs.close_tail(subscription)

    return ServerSentEvent(events(), headers={"cache-control": "no-store"})
