"""Transactional outbox: a registry change and the messages announcing it commit in one Redis MULTI.

`append` is called inside the same transaction that writes the state, so either both exist or
neither does. The relay publishes pending entries to Kafka (acks=all) in commit order per
workspace and deletes them only after the broker acknowledged them. A crash between commit and
publish leaves the entries in Redis, published at the next start; a crash between publish and
delete publishes them twice, which consumers absorb (snapshots carry revisions, audit events ids).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaProducer
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from contracts.topics import BY_NAME, Topic
from services.base.keys import workspace_key

log = logging.getLogger(__name__)
OUTBOXES = "outbox:streams"  # set of outbox stream keys that may hold entries


def outbox_key(workspace_id: str) -> str:
    """One outbox stream per workspace, in the workspace's hash slot (Redis Cluster safe)."""
    return workspace_key(workspace_id, "outbox")


def append(pipe: Pipeline, workspace_id: str, topic: Topic[Any], message: Any) -> None:
    """Queue `message` for `topic` inside the caller's MULTI; it is relayed after commit."""
    pipe.xadd(
        outbox_key(workspace_id),
        {"topic": topic.name, "key": topic.encode_key(message), "value": topic.encode(message)},
    )


class OutboxRelay:
    """Moves committed outbox entries to Kafka; one relay per registry process."""

    def __init__(
        self, redis: Redis, producer: Callable[[], AIOKafkaProducer], poll_s: float = 0.5
    ) -> None:
        self.redis = redis
        self.producer = producer
        self.poll_s = poll_s
        self.wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def notify(self) -> None:
        """Called after a commit so the relay publishes at once instead of at the next poll."""
        self.wakeup.set()

    async def register(self, workspace_id: str) -> None:
        """Remember a workspace's outbox so the relay scans it (idempotent)."""
        await self.redis.sadd(OUTBOXES, outbox_key(workspace_id))

    def start(self) -> None:
        """Run the relay loop in the background (once: a second call is a no-op)."""
        if self._task is None or self._task.done():
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        """Stop after the current batch (entries not yet published stay in Redis).

        The flag, not only the cancellation, ends the loop: a cancellation can be lost when it
        lands just as an awaited call completes (e.g. `asyncio.wait_for` on Python 3.11), and
        then the relay would run, and this wait would last, forever.
        """
        self._stopping = True
        self.wakeup.set()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while not self._stopping:
            try:
                moved = await self.drain()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox relay failed; retrying")
                moved = 0
            if not moved and not self._stopping:
                try:
                    async with asyncio.timeout(self.poll_s):
                        await self.wakeup.wait()
                except TimeoutError:
                    pass
                self.wakeup.clear()

    async def drain(self, batch: int = 500) -> int:
        """Publish every pending entry once; return how many were moved."""
        moved = 0
        for stream in sorted(await self.redis.smembers(OUTBOXES)):
            entries: Any = await self.redis.xrange(stream, count=batch)
            if not entries:
                continue
            futures = [
                await self.producer().send(
                    BY_NAME[fields[b"topic"].decode()].name,
                    fields[b"value"],
                    key=fields[b"key"],
                )
                for _, fields in entries
            ]
            await asyncio.gather(*futures)  # every entry acknowledged (acks=all) before delete
            await self.redis.xdel(stream, *[entry_id for entry_id, _ in entries])
            moved += len(entries)
        return moved
