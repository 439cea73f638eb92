"""Live tail fan-out: lines from Kafka to every open tail, in memory, never via the store.

Each subscriber has a bounded queue. Publishing never waits: a subscriber whose queue is
full (a slow client) is dropped and told so, so one stalled browser tab can neither hold
memory nor slow the consumer or the other tails. Lines reach a subscriber in the order the
consumer saw them (per partition: per installation).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

import msgspec

from contracts.logs import ExtensionLogLine
from contracts.topics import EXTENSION_LOGS
from services.logs.service.queries import LogFilter


def decode_holding(raws: Sequence[bytes], needles: Sequence[bytes]) -> list[ExtensionLogLine]:
    """The lines (JSON) holding any of `needles`, decoded; the others are never decoded, and
    one that does not decode is left out (the storing path parks it)."""
    found = []
    for raw in raws:
        if any(needle in raw for needle in needles):
            try:
                found.append(EXTENSION_LOGS.decode(raw))
            except (msgspec.DecodeError, msgspec.ValidationError):
                continue
    return found


@dataclass(eq=False)
class TailSubscription:
    """One open tail: its filter, its bounded queue, and whether it was dropped."""

    query: LogFilter
    queue: asyncio.Queue[ExtensionLogLine]
    dropped: bool = False
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    async def next(self, wait_s: float) -> ExtensionLogLine | None:
        """The next line, or None after `wait_s` s (a heartbeat is due) or once dropped."""
        if self.dropped and self.queue.empty():
            return None
        try:
            return await asyncio.wait_for(self.queue.get(), wait_s)
        except TimeoutError:
            return None


class TailHub:
    """Subscribers by workspace; `publish` is O(subscribers of the line's workspace)."""

    def __init__(self, queue_size: int) -> None:
        self.queue_size = queue_size
        self.by_workspace: dict[str, set[TailSubscription]] = {}
        self.dropped_total = 0

    def subscribe(self, query: LogFilter) -> TailSubscription:
        """Open a tail for lines matching `query` from now on."""
        subscription = TailSubscription(query, asyncio.Queue(self.queue_size))
        self.by_workspace.setdefault(query.workspace_id, set()).add(subscription)
        return subscription

    def unsubscribe(self, subscription: TailSubscription) -> None:
        """Close a tail (client gone)."""
        subscribers = self.by_workspace.get(subscription.query.workspace_id)
        if subscribers is not None:
            subscribers.discard(subscription)
            if not subscribers:
                del self.by_workspace[subscription.query.workspace_id]
        subscription.closed.set()

    @property
    def count(self) -> int:
        """Open tails."""
        return sum(len(s) for s in self.by_workspace.values())

    def offer_raw(self, raws: Sequence[bytes]) -> None:
        """`publish` for lines as the topic carries them (JSON): only a line that names a
        workspace with an open tail is decoded (a byte search), the rest cost nothing."""
        if not self.by_workspace:
            return
        self.publish(decode_holding(raws, [w.encode() for w in self.by_workspace]))

    def publish(self, lines: Sequence[ExtensionLogLine]) -> None:
        """Offer each line to the matching tails; drop any tail that cannot keep up."""
        if not self.by_workspace:
            return
        for line in lines:
            for subscription in tuple(self.by_workspace.get(line.workspace_id, ())):
                if not subscription.query.matches(line):
                    continue
                try:
                    subscription.queue.put_nowait(line)
                except asyncio.QueueFull:
                    subscription.dropped = True
                    self.dropped_total += 1
                    self.unsubscribe(subscription)
