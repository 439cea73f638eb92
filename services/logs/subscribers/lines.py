"""The log-lines consumer: the topic's raw JSON straight into ClickHouse, no per-line Python.

What it guarantees (the same as `Infrastructure.subscribe_batch`, which the other topics use):
- a batch's offsets are committed only after its insert returned; a crash in between
  redelivers the batch, and reads return a redelivered line once (see store/lines.py);
- batches are inserted and committed in the order they were read, at most one insert in
  flight; while it runs the consumer reads the next batch (up to `max_records` lines, then it
  waits for the insert), so reading and inserting overlap and memory stays bounded;
- a store that cannot be reached (`DependencyUnavailable`) holds the batch: retried with
  backoff up to 5 s until it answers, offsets uncommitted, nothing parked;
- a batch the store refuses is retried (`attempts` tries), then split in halves until each
  refused line is alone; such a line is parked on the dead-letter topic after `attempts`
  tries of its own.
  The other lines of the batch are stored: a poison line is parked, never its batch.
A batch goes to `show` (the live tails) as soon as it is read, before its insert.
Its own consumer group (`<LOGS_GROUP_ID>.lines`): committing per partition needs the
consumer's own commit calls, which the shared FastStream consumer does not offer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from contracts.topics import EXTENSION_LOGS
from services.base.errors import DependencyUnavailable

log = logging.getLogger(__name__)
Store = Callable[[Sequence[bytes]], Awaitable[None]]
Park = Callable[[ConsumerRecord, str], Awaitable[None]]
STOP_WAIT_S = 10.0  # how long stopping waits for the insert in flight before abandoning it


class LineConsumer:
    """Reads `extensions.logs.v1` in batches, stores each with one insert, commits after."""

    def __init__(
        self,
        *,
        bootstrap_servers: str,
        group_id: str,
        store: Store,
        show: Callable[[Sequence[bytes]], None],
        park: Park,
        max_records: int,
        poll_ms: int,
        fetch_max_wait_ms: int,
        attempts: int = 3,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.group_id = group_id
        self.store = store
        self.show = show
        self.park = park
        self.max_records = max_records
        self.poll_ms = poll_ms
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self.attempts = attempts
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def assigned(self) -> bool:
        """Joined the group and holds partitions (readiness)."""
        return self._consumer is not None and bool(self._consumer.assignment())

    def start(self) -> None:
        """Consume in the background until `stop` (reconnects when Kafka is away)."""
        if self._task is None:
            self._stopping.clear()
            self._task = asyncio.create_task(self._run(), name="logs-lines-consumer")

    async def stop(self) -> None:
        """Stop reading; the insert in flight finishes and commits (or, after STOP_WAIT_S,
        is abandoned uncommitted: redelivered after the restart)."""
        if self._task is None:
            return
        self._stopping.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), STOP_WAIT_S + 5)
        except TimeoutError:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._task = None

    async def _run(self) -> None:
        delay = 0.2
        while not self._stopping.is_set():
            consumer = AIOKafkaConsumer(
                EXTENSION_LOGS.name,
                bootstrap_servers=self.bootstrap_servers,
                group_id=self.group_id,
                client_id="logs-lines",
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                fetch_max_wait_ms=self.fetch_max_wait_ms,
                max_partition_fetch_bytes=4 * 1024 * 1024,
            )
            try:
                await consumer.start()
                self._consumer = consumer
                delay = 0.2
                await self._consume(consumer)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # broker gone, group error: rebuild from committed offsets
                log.warning("log lines consumer restarting", exc_info=error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            finally:
                self._consumer = None
                await asyncio.shield(consumer.stop())

    async def _consume(self, consumer: AIOKafkaConsumer) -> None:
        pending: list[ConsumerRecord] = []
        offsets: dict[TopicPartition, int] = {}
        inflight: asyncio.Task[None] | None = None
        try:
            while not self._stopping.is_set():
                room = self.max_records - len(pending)
                if room > 0:
                    fetched = await consumer.getmany(timeout_ms=self.poll_ms, max_records=room)
                    read: list[ConsumerRecord] = []
                    for partition, records in fetched.items():
                        offsets[partition] = records[-1].offset + 1
                        read.extend(r for r in records if r.value)  # tombstones: nothing
                    if read:
                        pending.extend(read)
                        self.show([r.value for r in read])
                if inflight is not None and (inflight.done() or room <= 0):
                    await inflight
                    inflight = None
                if inflight is None and offsets:
                    batch = self._store_and_commit(consumer, pending, offsets)
                    inflight = asyncio.create_task(batch)
                    pending, offsets = [], {}
        finally:
            if inflight is not None:
                try:
                    await asyncio.wait_for(inflight, STOP_WAIT_S)  # cancels it when late
                except TimeoutError:
                    log.warning("log lines insert abandoned at stop; redelivered after restart")

    async def _store_and_commit(
        self,
        consumer: AIOKafkaConsumer,
        records: list[ConsumerRecord],
        offsets: dict[TopicPartition, int],
    ) -> None:
        await self._store(records, whole=True)
        try:
            await consumer.commit(dict(offsets))
        except Exception as error:  # partitions moved to another member: it re-reads them
            log.warning("log lines commit failed; the batch will be redelivered", exc_info=error)

    async def _store(self, records: list[ConsumerRecord], *, whole: bool = False) -> None:
        """Insert `records`; hold through an outage; split a refused batch down to its line."""
        attempt = outage = 0
        while True:
            try:
                if records:
                    await self.store([r.value for r in records])
                if outage:
                    log.warning("store back; log lines batch stored")
                return
            except DependencyUnavailable as error:  # held, never parked
                outage += 1
                if outage == 1 or outage % 60 == 0:
                    log.warning(
                        "store unavailable; log lines batch held until it answers",
                        extra={"dependency": error.dependency, "lines": len(records)},
                    )
                await asyncio.sleep(min(0.1 * 2 ** min(outage, 6), 5.0))
            except Exception as error:  # refused: retry (transient?), then isolate the line
                attempt += 1
                if attempt < (self.attempts if whole or len(records) == 1 else 1):
                    await asyncio.sleep(min(0.1 * 2**attempt, 2.0))
                    continue
                if len(records) == 1:
                    await self.park(records[0], repr(error))
                    return
                if whole:
                    log.warning(
                        "log lines batch refused; splitting it to park the refused lines",
                        extra={"lines": len(records), "error": repr(error)[:500]},
                    )
                middle = len(records) // 2
                await self._store(records[:middle])
                await self._store(records[middle:])
                return
