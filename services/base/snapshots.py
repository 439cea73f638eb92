"""Following installation snapshots: the one way a service knows every installation's state.

`SnapshotView` is the map: the latest snapshot per installation (and per webhook hook id).
It keeps the highest revision and ignores older ones, so redelivery, republishing and
out-of-order replays never move an installation backwards; its listeners are called once per
snapshot it takes. Lookups are in-process dictionary reads: no call to the registry on any
hot path.

`Follower` fills the view from the compacted snapshot topic, reading every partition it
follows from the beginning at each start (nothing is committed: the view is rebuilt from the
log). Two ways to follow:

- every partition (`group_id=None`): replicas behind a load balancer (ingress, the logs
  service) must each know every installation;
- a consumer group (`group_id=...`): each replica follows its share (sync schedules exactly
  the installations of its partitions). A revoked partition's installations leave the view
  and the owner hears of it before the group rebalances on.

One readiness signal: `view.ready` turns true once every followed partition has reached the
end offset it had when the follower got it (a group member's turns false again while a
newly assigned partition loads) (`await view.wait_ready()` waits for it). Until
then "not in the view" does not mean "does not exist", so `/readyz` stays red and callers
answer "loading", never 404.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
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
Listener = Callable[[InstallationSnapshot, InstallationSnapshot | None], Awaitable[None]]
ALL = list(range(INSTALLATION_SNAPSHOTS.partitions))


class SnapshotView:
    """Latest snapshot per installation, indexed by installation id and by webhook hook id."""

    def __init__(self) -> None:
        self.by_installation: dict[str, InstallationSnapshot] = {}
        self.by_hook: dict[str, str] = {}
        self.partition_of: dict[str, int] = {}
        self.listeners: list[Listener] = []
        self.changed = asyncio.Condition()
        self._ready = asyncio.Event()

    @property
    def ready(self) -> bool:
        """Whether every followed partition was read up to where it stood when followed."""
        return self._ready.is_set()

    async def wait_ready(self) -> None:
        """Return once `ready` holds."""
        await self._ready.wait()

    def get(self, installation_id: str) -> InstallationSnapshot | None:
        """The current snapshot, or None if never seen."""
        return self.by_installation.get(installation_id)

    def by_hook_id(self, hook_id: str) -> InstallationSnapshot | None:
        """The installation a per-installation webhook URL belongs to."""
        installation_id = self.by_hook.get(hook_id)
        return self.by_installation.get(installation_id) if installation_id else None

    async def apply(self, snapshot: InstallationSnapshot, partition: int = 0) -> bool:
        """Take a snapshot if it is newer than what we hold; return whether it was applied."""
        current = self.by_installation.get(snapshot.installation_id)
        if current is not None and current.revision >= snapshot.revision:
            return False
        if current is not None and current.hook_id and current.hook_id != snapshot.hook_id:
            self.by_hook.pop(current.hook_id, None)  # a rotated URL stops resolving at once
        self.by_installation[snapshot.installation_id] = snapshot
        self.partition_of[snapshot.installation_id] = partition
        if snapshot.hook_id:
            self.by_hook[snapshot.hook_id] = snapshot.installation_id
        for listener in self.listeners:
            await listener(snapshot, current)
        async with self.changed:
            self.changed.notify_all()
        return True

    def in_partitions(self, partitions: list[int]) -> list[InstallationSnapshot]:
        """The installations whose snapshots were read from these partitions."""
        wanted = set(partitions)
        return [s for i, s in self.by_installation.items() if self.partition_of[i] in wanted]

    def forget(self, partitions: list[int]) -> list[InstallationSnapshot]:
        """Drop the installations of these partitions (no longer followed); return them."""
        dropped = self.in_partitions(partitions)
        for snapshot in dropped:
            self.by_installation.pop(snapshot.installation_id, None)
            self.partition_of.pop(snapshot.installation_id, None)
            if snapshot.hook_id:
                self.by_hook.pop(snapshot.hook_id, None)
        return dropped


class PartitionOwner(Protocol):
    """What a group follower tells its owner (sync's scheduler) about its partitions."""

    async def partitions_revoked(self, partitions: list[int]) -> None: ...
    async def partitions_assigned(self, partitions: list[int]) -> None: ...
    async def partition_live(self, partition: int) -> None: ...


class Follower:
    """Reads snapshots into `view`; ordering is per partition, so per installation."""

    def __init__(
        self,
        bootstrap_servers: str,
        view: SnapshotView,
        *,
        service: str,
        group_id: str | None = None,
        owner: PartitionOwner | None = None,
        producer: Callable[[], AIOKafkaProducer] | None = None,
        group_timeouts: Mapping[str, int] | None = None,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.group_timeouts = dict(group_timeouts or {})  # in a group: `kafka.group_timeouts`
        self.view = view
        self.service = service
        self.group_id = group_id
        self.owner = owner
        self.producer = producer  # given: undecodable snapshots are parked, else logged
        self.joined = False
        self.held: set[int] = set()  # partitions followed now
        self.loading: dict[int, int] = {}  # partition → end offset to reach before it is live
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin following in the background (idempotent)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"{self.service}-snapshots")

    async def stop(self) -> None:
        """Stop following (a group member leaves its group, revoking its partitions first)."""
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
            except Exception as error:  # broker gone: rebuild the consumer
                log.warning("snapshot follower restarting", exc_info=error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _follow(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            group_id=self.group_id,
            client_id=f"{self.service}-snapshots",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=SNAPSHOT_FETCH_WAIT_MS,  # the cutover latency (see there)
            **self.group_timeouts,
        )
        self._consumer = consumer
        await consumer.start()
        try:
            if self.group_id is None:
                partitions = [TopicPartition(INSTALLATION_SNAPSHOTS.name, p) for p in ALL]
                consumer.assign(partitions)
                await self.assigned(partitions)
            else:
                consumer.subscribe([INSTALLATION_SNAPSHOTS.name], listener=_Rebalance(self))
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
                if self.group_id is not None and self.held:  # before leaving, not after
                    await self.revoked(sorted(self.held))
                await consumer.stop()
            finally:
                self._consumer = None

    async def assigned(self, assigned: list[TopicPartition]) -> None:
        """Read newly followed partitions from the beginning; live once at their end offset."""
        consumer = self._consumer
        assert consumer is not None
        self.joined = True
        self.held.update(tp.partition for tp in assigned)
        if assigned:
            await consumer.seek_to_beginning(*assigned)
            ends = await consumer.end_offsets(assigned)
            self.loading.update({tp.partition: end for tp, end in ends.items()})
            if self.owner is not None:
                await self.owner.partitions_assigned([tp.partition for tp in assigned])
            for tp, end in ends.items():
                if end == 0:
                    await self._live(tp.partition)
        self._update_ready()

    async def revoked(self, partitions: list[int]) -> None:
        """Partitions no longer followed: their installations leave the view."""
        for p in partitions:
            self.loading.pop(p, None)
            self.held.discard(p)
        if self.owner is not None:
            await self.owner.partitions_revoked(partitions)
        self.view.forget(partitions)
        self._update_ready()

    async def _live(self, partition: int) -> None:
        if self.loading.pop(partition, None) is not None:
            if self.owner is not None:
                await self.owner.partition_live(partition)
            self._update_ready()

    def _update_ready(self) -> None:
        if self.joined and not self.loading:
            if not self.view.ready:
                log.info("snapshot view caught up", extra={"follower": self.service})
            self.view._ready.set()
        elif self.group_id is not None:
            # A group member lost or gained partitions: its view is incomplete until they are
            # read. Following everything, a view once complete stays usable while a restarted
            # consumer reads the topic again (it only gains newer revisions).
            self.view._ready.clear()

    async def _apply(self, record: Any) -> None:
        if record.value is None:  # a tombstone: compaction removed the installation
            return
        try:
            snapshot = INSTALLATION_SNAPSHOTS.decode(record.value)
        except (msgspec.DecodeError, msgspec.ValidationError) as error:
            if self.producer is not None:
                group = self.group_id or f"{self.service}-snapshots"
                await dead_letter(
                    self.producer(), INSTALLATION_SNAPSHOTS, group, record, str(error)
                )
            else:
                log.error(
                    "undecodable snapshot skipped",
                    extra={"offset": record.offset, "error": str(error)},
                )
            return
        await self.view.apply(snapshot, record.partition)


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, follower: Follower) -> None:
        self.follower = follower

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self.follower.revoked([tp.partition for tp in revoked])

    async def on_partitions_assigned(self, assigned: Any) -> None:
        await self.follower.assigned(list(assigned))
