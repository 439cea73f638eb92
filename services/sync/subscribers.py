"""Kafka in: this replica's share of the installation snapshot topic, as a consumer group.

Sync replicas form one consumer group on the compacted snapshot topic; each schedules exactly
the installations of the partitions assigned to it. On assignment a partition is read again
from its beginning (nothing is ever committed: the view is rebuilt from the compacted log) and
handed to the scheduler only once it reached the end offset seen at assignment, so an old
revision read on the way is never scheduled. On revocation the scheduler drops the
partition's installations (cancelling their runs, releasing their leases) *before* the group
rebalances on, so the new owner finds the leases free.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Protocol

import msgspec
from aiokafka import (
    AIOKafkaConsumer,
    AIOKafkaProducer,
    ConsumerRebalanceListener,
    TopicPartition,
)

from contracts.installations import InstallationSnapshot
from contracts.topics import INSTALLATION_SNAPSHOTS
from services.base.kafka import SNAPSHOT_FETCH_WAIT_MS, dead_letter

log = logging.getLogger(__name__)


class PartitionOwner(Protocol):
    """What the consumer tells the scheduler."""

    async def partitions_revoked(self, partitions: list[int]) -> None: ...
    async def partitions_assigned(self, partitions: list[int]) -> None: ...
    async def snapshot_read(self, partition: int, snapshot: InstallationSnapshot) -> None: ...
    async def partition_live(self, partition: int) -> None: ...


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, follower: SnapshotPartitions) -> None:
        self.follower = follower

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self.follower.revoked([tp.partition for tp in revoked])

    async def on_partitions_assigned(self, assigned: Any) -> None:
        await self.follower.assigned(list(assigned))


class SnapshotPartitions:
    """The scheduler's consumer; rebuilt (and the group rejoined) after a broker failure."""

    def __init__(
        self,
        bootstrap_servers: str,
        group_id: str,
        owner: PartitionOwner,
        producer: Callable[[], AIOKafkaProducer],
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.group_id = group_id
        self.owner = owner
        self.producer = producer  # parks undecodable snapshots on the dead-letter topic
        self.joined = False
        self.loading: dict[int, int] = {}  # partition → end offset to reach before it is live
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def caught_up(self) -> bool:
        """Joined the group and every assigned partition is live."""
        return self.joined and not self.loading

    def start(self) -> None:
        """Begin consuming in the background (idempotent)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="sync-snapshot-partitions")

    async def stop(self) -> None:
        """Leave the group (the scheduler drops everything first through the revoke)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def revoked(self, partitions: list[int]) -> None:
        for p in partitions:
            self.loading.pop(p, None)
        await self.owner.partitions_revoked(partitions)

    async def assigned(self, assigned: list[TopicPartition]) -> None:
        consumer = self._consumer
        assert consumer is not None
        self.joined = True
        if not assigned:
            return
        await consumer.seek_to_beginning(*assigned)
        ends = await consumer.end_offsets(assigned)
        self.loading.update({tp.partition: end for tp, end in ends.items()})
        await self.owner.partitions_assigned([tp.partition for tp in assigned])
        for tp, end in ends.items():
            if end == 0:
                await self._live(tp.partition)

    async def _live(self, partition: int) -> None:
        if self.loading.pop(partition, None) is not None:
            await self.owner.partition_live(partition)

    async def _run(self) -> None:
        delay = 0.2
        while True:
            try:
                await self._follow()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # broker gone: drop our partitions, rejoin later
                log.warning("snapshot consumer restarting", exc_info=error)
                await self.revoked(list(range(INSTALLATION_SNAPSHOTS.partitions)))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _follow(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            group_id=self.group_id,
            client_id="sync-scheduler",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=SNAPSHOT_FETCH_WAIT_MS,  # a cutover reaches the scheduler soon
        )
        self._consumer = consumer
        await consumer.start()
        try:
            consumer.subscribe([INSTALLATION_SNAPSHOTS.name], listener=_Listener(self))
            while True:
                batch = await consumer.getmany(timeout_ms=200, max_records=500)
                for records in batch.values():
                    for record in records:
                        await self._apply(record)
                for partition, end in list(self.loading.items()):
                    tp = TopicPartition(INSTALLATION_SNAPSHOTS.name, partition)
                    if tp in consumer.assignment() and await consumer.position(tp) >= end:
                        await self._live(partition)
        finally:
            self.joined = False
            try:
                await consumer.stop()  # leaves the group: the listener revokes first
            finally:
                self._consumer = None

    async def _apply(self, record: Any) -> None:
        if record.value is None:
            return  # a tombstone: nothing to apply
        try:
            snapshot = INSTALLATION_SNAPSHOTS.decode(record.value)
        except (msgspec.DecodeError, msgspec.ValidationError) as error:
            # Parked like every group consumer's undecodable message; the partition goes on.
            await dead_letter(
                self.producer(), INSTALLATION_SNAPSHOTS, self.group_id, record, str(error)
            )
            return
        await self.owner.snapshot_read(record.partition, snapshot)
