"""The log-lines consumer: the topic's raw JSON straight into ClickHouse, no per-line Python.

What it guarantees (the same as `Consumers.subscribe_batch`, which the other topics use):
- a batch's offsets are committed only after its insert returned; a crash in between
  redelivers the batch, and reads return a redelivered line once (see store/lines.py);
- batches are inserted and committed in the order they were read, at most one insert in
  flight; while it runs the consumer reads the next batch (up to `max_records` lines, then it
  waits for the insert while librdkafka prefetches into its bounded queue; an insert held
  past PAUSE_AFTER_S pauses the partitions and polls, so that the group keeps it as a member
  however long the insert is held), so reading and inserting overlap and memory stays
  bounded;
- a store that cannot be reached (`DependencyUnavailable`) holds the batch: retried with
  backoff up to 5 s until it answers, offsets uncommitted, nothing parked;
- a batch the store refuses is retried (`attempts` tries), then split in halves until each
  refused line is alone; such a line is parked on the dead-letter topic after `attempts`
  tries of its own.
  The other lines of the batch are stored: a poison line is parked, never its batch.
A batch goes to `show` (the live tails) as soon as it is read, before its insert.

The Kafka client is librdkafka (`confluent-kafka`), as in Sentry's arroyo, not aiokafka:
this is the busiest topic of the suite, and aiokafka decodes every record into a Python
object on the event loop (≈ 2.5 s of the loop per 300,000 lines, py-spy; the loop was the
ingest's bottleneck, docs/performance.md). librdkafka fetches and decodes in its own threads
and hands over a batch of messages in one call. Every call to the client runs in one thread
of this consumer (`_call`), so the client is only ever used from one thread.
Its own consumer group (`<LOGS_GROUP_ID>.lines`): commits are per partition and explicit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple, TypeVar

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from contracts.topics import EXTENSION_LOGS
from services.base.errors import DependencyUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")


class LineRecord(NamedTuple):
    """A line as read from the topic, with its origin (what parking needs)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes


Store = Callable[[Sequence[bytes]], Awaitable[None]]
Park = Callable[[LineRecord, str], Awaitable[None]]
# Each partition's offset of the last message read (the client's types: Optional).
Offsets = dict[int | None, int | None]
STOP_WAIT_S = 10.0  # how long stopping waits for the insert in flight before abandoning it
# While full: an insert held longer than this (a store outage, not a large batch) pauses the
# partitions, well inside librdkafka's `max.poll.interval.ms` (300 s); then the consumer
# polls every FULL_POLL_S so that the group keeps it as a member.
PAUSE_AFTER_S = 10.0
FULL_POLL_S = 1.0


def _record(message: Message) -> LineRecord:
    return LineRecord(
        message.topic() or "",
        message.partition() or 0,
        message.offset() or 0,
        message.key(),
        message.value() or b"",
    )


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
        session_timeout_ms: int = 6_000,
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
        self.session_timeout_ms = session_timeout_ms
        self.attempts = attempts
        self._assignment: set[tuple[str, int]] = set()
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="logs-lines-kafka")

    def assigned(self) -> bool:
        """Joined the group and holds partitions (readiness)."""
        return bool(self._assignment)

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
        self._thread.shutdown(wait=False)  # its thread ends; a later start makes another
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="logs-lines-kafka")

    async def _call(self, work: Callable[[], T]) -> T:
        """`work` with the client, in the consumer's own thread (librdkafka blocks there)."""
        return await asyncio.get_running_loop().run_in_executor(self._thread, work)

    def _client(self) -> Consumer:
        def assign(_: Consumer, partitions: list[TopicPartition]) -> None:
            self._assignment |= {(p.topic, p.partition) for p in partitions}

        def revoke(_: Consumer, partitions: list[TopicPartition]) -> None:
            self._assignment -= {(p.topic, p.partition) for p in partitions}

        consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap_servers,
                "group.id": self.group_id,
                "client.id": "logs-lines",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "fetch.wait.max.ms": self.fetch_max_wait_ms,
                "max.partition.fetch.bytes": 4 * 1024 * 1024,
                "queued.max.messages.kbytes": 32 * 1024,  # prefetched, all partitions
                # With that queue full (an insert running), librdkafka fetches again only
                # after this; its default, 1 s, left nothing to read for up to a second
                # after each full batch.
                "fetch.queue.backoff.ms": 10,
                # The embedded broker answers a join after half the session timeout
                # (librdkafka's default 45 s: 23 s to join): the services' setting. Heartbeats
                # come from librdkafka's own thread, so a busy event loop never misses one.
                "session.timeout.ms": self.session_timeout_ms,
                "heartbeat.interval.ms": max(self.session_timeout_ms // 3, 100),
            },
            logger=log,
        )
        consumer.subscribe(
            [EXTENSION_LOGS.name], on_assign=assign, on_revoke=revoke, on_lost=revoke
        )
        return consumer

    async def _run(self) -> None:
        delay = 0.2
        while not self._stopping.is_set():
            try:
                consumer = await self._call(self._client)
            except Exception as error:  # a client that cannot be built now: try again
                log.warning("log lines consumer not created; retrying", exc_info=error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            try:
                await self._consume(consumer)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # a fatal client error: rebuild from committed offsets
                log.warning("log lines consumer restarting", exc_info=error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            finally:
                self._assignment.clear()
                await asyncio.shield(self._call(consumer.close))

    async def _read(self, consumer: Consumer, room: int, timeout_s: float) -> list[Message]:
        """Up to `room` messages (fewer after `timeout_s`; a tombstone's value is empty);
        client errors are logged here, a fatal one raises (the client is rebuilt).
        librdkafka reconnects by itself. The messages are kept as the client made them: a
        `LineRecord` per line cost ten times the rest of the read (1.8 against 0.18 µs a
        line, docs/performance.md); only a parked line becomes one."""
        messages = await self._call(lambda: consumer.consume(room, timeout_s))
        read = []
        for message in messages:
            error = message.error()
            if error is None:
                read.append(message)
            elif error.fatal():
                raise KafkaException(error)
            elif error.code() != KafkaError._PARTITION_EOF:
                log.warning("log lines consumer: %s", error.str())
        return read

    def _take(self, read: list[Message], pending: list[Message], offsets: Offsets) -> None:
        """Add what was read to the batch: its lines (tombstones: nothing) to `pending` and
        the live tails, each partition's last offset read to `offsets`."""
        for message in read:
            offsets[message.partition()] = message.offset()
        fresh = [message for message in read if message.value()]
        if fresh:
            pending.extend(fresh)
            self.show([message.value() or b"" for message in fresh])

    async def _consume(self, consumer: Consumer) -> None:
        pending: list[Message] = []
        offsets: Offsets = {}
        inflight: asyncio.Task[None] | None = None
        try:
            while not self._stopping.is_set():
                room = self.max_records - len(pending)
                if room > 0:
                    self._take(
                        await self._read(consumer, room, self.poll_ms / 1000), pending, offsets
                    )
                elif inflight is not None:
                    await self._wait_full(consumer, inflight, pending, offsets)
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

    async def _wait_full(
        self,
        consumer: Consumer,
        inflight: asyncio.Task[None],
        pending: list[Message],
        offsets: Offsets,
    ) -> None:
        """Full: wait for the insert in flight without reading. librdkafka keeps prefetching
        meanwhile, into its own bounded queue (`queued.max.messages.kbytes`), so the next
        batch is read at once. Pausing at every full batch cost ≈ 1 s each: librdkafka drops
        its prefetched messages at a pause and fetches again only after a backoff (half the
        ingest time, docs/performance.md). An insert held past PAUSE_AFTER_S (a store
        outage) pauses the partitions and polls every FULL_POLL_S, pausing what it holds
        again before each poll, so that a partition gained meanwhile is not read into the
        batch for as long as the outage lasts (two probes with librdkafka 2.16, a member
        joining and one leaving, stayed bounded without it; pausing again costs nothing)."""

        def paused(resume: bool) -> None:
            partitions = [TopicPartition(t, p) for t, p in self._assignment]
            (consumer.resume if resume else consumer.pause)(partitions)

        await asyncio.wait({inflight}, timeout=PAUSE_AFTER_S)
        if inflight.done() or self._stopping.is_set():
            return
        try:
            while not inflight.done() and not self._stopping.is_set():
                await self._call(lambda: paused(False))
                self._take(await self._read(consumer, 1_000, 0), pending, offsets)
                await asyncio.wait({inflight}, timeout=FULL_POLL_S)
        finally:
            await self._call(lambda: paused(True))

    async def _store_and_commit(
        self,
        consumer: Consumer,
        messages: list[Message],
        offsets: Offsets,
    ) -> None:
        await self._store(messages, whole=True)
        positions = [
            TopicPartition(EXTENSION_LOGS.name, p, o + 1)
            for p, o in offsets.items()
            if p is not None and o is not None
        ]
        try:
            await self._call(lambda: consumer.commit(offsets=positions, asynchronous=False))
        except KafkaException as error:  # partitions moved to another member: it re-reads them
            log.warning("log lines commit failed; the batch will be redelivered", exc_info=error)

    async def _store(self, records: list[Message], *, whole: bool = False) -> None:
        """Insert `records`; hold through an outage; split a refused batch down to its line."""
        attempt = outage = 0
        while True:
            try:
                if records:
                    await self.store([r.value() or b"" for r in records])
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
                    await self.park(_record(records[0]), repr(error))
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
