"""Every installation snapshot, from every partition, into this replica's view.

Replicas behind a load balancer (ingress; the logs service's HTTP API) must each know every
installation, whichever partitions a consumer group would have given them: the follower
assigns itself all partitions of the snapshot topic (no consumer group, nothing committed)
and reads them from the beginning at every start. It is *caught up* once it has reached the
end offsets it saw when it started; `/readyz` stays red until then, so a replica never
answers 404 for an installation it simply has not read yet.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import msgspec
from aiokafka import AIOKafkaConsumer, TopicPartition

from contracts.installations import InstallationSnapshot
from contracts.topics import INSTALLATION_SNAPSHOTS

log = logging.getLogger(__name__)
Apply = Callable[[InstallationSnapshot], Awaitable[object]]


class SnapshotFollower:
    """Tails all snapshot partitions into `apply`; ordering is per partition (per installation)."""

    def __init__(self, bootstrap_servers: str, apply: Apply, service: str = "ingress") -> None:
        self.bootstrap_servers = bootstrap_servers
        self.apply = apply
        self.service = service
        self.caught_up = False
        self.caught_up_event = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._consumer: AIOKafkaConsumer | None = None

    def start(self) -> None:
        """Begin following in the background (idempotent)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"{self.service}-snapshot-follower")

    async def stop(self) -> None:
        """Stop following; nothing to commit (every start reads from the beginning)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        delay = 0.2
        while True:
            try:
                await self._follow()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # broker gone: rebuild the consumer, keep the view
                log.warning("snapshot follower restarting", exc_info=error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _follow(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            enable_auto_commit=False,
            group_id=None,
            client_id=f"{self.service}-snapshots",
        )
        await consumer.start()
        try:
            partitions = [
                TopicPartition(INSTALLATION_SNAPSHOTS.name, p)
                for p in range(INSTALLATION_SNAPSHOTS.partitions)
            ]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            targets = await consumer.end_offsets(partitions)
            while True:
                if not self.caught_up and await _caught_up(consumer, targets):
                    self.caught_up = True
                    self.caught_up_event.set()
                    log.info("snapshot view caught up", extra={"offsets": len(targets)})
                batch = await consumer.getmany(timeout_ms=200, max_records=500)
                for records in batch.values():
                    for record in records:
                        await self._apply(record.value, record.partition, record.offset)
        finally:
            await consumer.stop()

    async def _apply(self, raw: bytes | None, partition: int, offset: int) -> None:
        if raw is None:  # a tombstone: compaction removed the installation; nothing to apply
            return
        try:
            snapshot = INSTALLATION_SNAPSHOTS.decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError) as error:
            log.error(
                "undecodable snapshot skipped",
                extra={"partition": partition, "offset": offset, "error": str(error)},
            )
            return
        await self.apply(snapshot)


async def _caught_up(consumer: AIOKafkaConsumer, targets: dict[TopicPartition, int]) -> bool:
    for tp, end in targets.items():
        if end > 0 and await consumer.position(tp) < end:
            return False
    return True
