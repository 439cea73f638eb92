"""Publish once: the one way ingress and sync turn emissions into canonical records.

`PublishOnce.publish` claims the emissions' idempotency keys (one Redis script for the whole
batch with the page store, one pipeline per event-loop tick with the tick store), builds the
`CanonicalRecord` of every key it won, hands the optional leading message (ingress' raw
delivery) and the records to the producer (an installation's records all go to its
partition, computed once; a sync page as batches of its own, one acknowledgement each, a
delivery's few records in the producer's shared batch for that partition), and awaits
every acknowledgement (`acks=all`) within `timeout_s`. Then the caller confirms (`confirm`:
now, or riding along with the next Redis round trip after its answer).

When a send fails part-way, every key has exactly one fate:
- a record never handed to the producer: its claim is released at once (the next caller
  publishes it, nobody has to look for it on the topic);
- a record handed over but not acknowledged in time: settled in the background (done if
  the broker acknowledged it after all, else *uncertain*, which the next claimant resolves by
  looking for it on the topic): a timeout is not a failure, it is never just freed;
and `DependencyUnavailable("kafka")` is raised: the caller neither answers 2xx nor moves its
cursor.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.structs import RecordMetadata

from contracts.records import CanonicalRecord, RecordSource
from contracts.topics import CANONICAL_RECORDS, Topic
from runtime.interface import Emission
from services.base.dedupe.deduplicator import Claims, Deduplicator
from services.base.dedupe.tick import Queue
from services.base.errors import DependencyUnavailable
from services.base.tasks import Background

# The producer's request limit (aiokafka's default `max_request_size`): a larger record is
# refused before anything of its batch leaves, as `producer.send` would refuse it.
MAX_RECORD_BYTES = 1024 * 1024
SENT_AT_MARGIN_MS = 1_000  # producer-side timestamps may trail our clock by this much
_PARTITIONER = DefaultPartitioner()
PARTITIONS_KEPT = 10_000  # keys whose partition is remembered (then forgotten all at once)
_PARTITIONS: dict[tuple[str, bytes], tuple[set[int], int]] = {}


@dataclass(frozen=True)
class Origin:
    """Where a batch of records comes from: every field of a `CanonicalRecord` but the
    emission's own."""

    workspace_id: str
    installation_id: str
    extension_key: str
    version_id: str
    source: RecordSource
    source_id: str  # the delivery or the run

    def record(self, emission: Emission, at: float) -> CanonicalRecord:
        """The canonical record of one emission (the only place one is built)."""
        return CanonicalRecord(
            idempotency_key=emission.idempotency_key,
            workspace_id=self.workspace_id,
            installation_id=self.installation_id,
            extension_key=self.extension_key,
            version_id=self.version_id,
            canonical_type=emission.canonical_type,
            stream=emission.stream,
            payload=emission.payload,
            source=self.source,
            source_id=self.source_id,
            emitted_at=at,
        )


@dataclass
class Published:
    """What one publish wrote: the new records, the keys found written before, where the
    leading message landed, and the claims to confirm."""

    claims: Claims | None
    records: list[CanonicalRecord] = field(default_factory=list)
    duplicates: set[str] = field(default_factory=set)  # idempotency keys, not dedupe keys
    lead: RecordMetadata | None = None


class PublishOnce:
    """Claim keys, publish, confirm or settle (see the module docstring)."""

    def __init__(
        self,
        dedupe: Deduplicator,
        producer: Callable[[], AIOKafkaProducer],
        *,
        timeout_s: float,
        settling: Background | None = None,
        own_batches: bool = False,
    ) -> None:
        self.dedupe = dedupe
        self.producer = producer
        self.timeout_s = timeout_s
        # A page's records as batches of their own (sync) or joining the producer's shared
        # batch record by record (ingress: its many small concurrent deliveries of one
        # installation would each wait for the previous batch of the partition to leave).
        self.own_batches = own_batches
        # Timed-out publishes resolving their claims (the caller drains it at shutdown).
        self.settling = settling or Background()

    async def publish(
        self,
        origin: Origin,
        emissions: Sequence[Emission],
        token: str,
        lead: tuple[Topic[Any], Any] | None = None,
    ) -> Published:
        """Publish the records of `emissions` not written before (and `lead` first).

        Raises DependencyUnavailable (`redis`, `kafka`, `dedupe_pending`) with every claim
        released or settled.
        """
        store = self.dedupe.store
        keys = [store.dedupe_key(origin.installation_id, e.idempotency_key) for e in emissions]
        claims = await self.dedupe.claim(keys, token) if keys else None
        mine = set(claims.mine) if claims else set()
        at = time.time()
        records, order = [], []
        for key, emission in zip(keys, emissions, strict=True):
            if key in mine:  # first occurrence of a key we won
                mine.discard(key)
                records.append(origin.record(emission, at))
                order.append(key)
        if claims is not None:
            claims.mine = order  # in the order the records go out
        published = Published(claims=claims, records=records)
        if claims is not None:
            published.duplicates = {store.parse_dedupe_key(k)[1] for k in claims.duplicates}
        sent_at_ms = int(at * 1000) - SENT_AT_MARGIN_MS
        acks: list[asyncio.Future[RecordMetadata]] = []  # one per record handed over
        try:
            async with asyncio.timeout(self.timeout_s):
                producer = self.producer()
                if lead is not None:
                    topic, message = lead
                    lead_key = topic.encode_key(message)
                    partition = await _partition_of(producer, topic.name, lead_key)
                    lead_ack = await producer.send(
                        topic.name, topic.encode(message), key=lead_key, partition=partition
                    )
                await self._send_all(producer, records, acks)
                if lead is not None:
                    published.lead = await lead_ack
                if acks:
                    await asyncio.gather(*acks)
        except Exception as error:  # not handed, timed out, broker error: nothing promised
            if claims is not None:
                await self._after_failure(claims, acks, sent_at_ms)
            raise DependencyUnavailable("kafka") from error
        return published

    async def _send_all(
        self,
        producer: AIOKafkaProducer,
        records: list[CanonicalRecord],
        acks: list[asyncio.Future[RecordMetadata]],
    ) -> None:
        """Hand the records to the producer, to their installation's partition (computed
        once, not per record): as batches of their own (`own_batches`), else one by one into
        the partition's shared batch (concurrent callers' records too). Each ack future is
        recorded as it is handed over: a later failure must know which records left."""
        if not records:
            return
        key = records[0].installation_id.encode()
        partition = await _partition_of(producer, CANONICAL_RECORDS.name, key)
        batch = producer.create_batch() if self.own_batches else None
        for record in records:
            value = CANONICAL_RECORDS.encode(record)
            key = CANONICAL_RECORDS.encode_key(record)
            if len(value) + len(key) > MAX_RECORD_BYTES:
                if batch is not None:  # the records before it leave, as they would one by one
                    await _send_batch(producer, partition, batch, acks)
                raise ValueError(f"a canonical record of {len(value):,} bytes is too large")
            if batch is None:
                acks.append(
                    await producer.send(CANONICAL_RECORDS.name, value, key=key, partition=partition)
                )
            elif batch.append(key=key, value=value, timestamp=None) is None:  # full
                await _send_batch(producer, partition, batch, acks)
                batch = producer.create_batch()
                batch.append(key=key, value=value, timestamp=None)  # an empty batch takes any
        if batch is not None:
            await _send_batch(producer, partition, batch, acks)

    async def _after_failure(
        self, claims: Claims, acks: list[asyncio.Future[Any]], sent_at_ms: int
    ) -> None:
        """Unsent claims released now; handed-over ones settled once their acks resolve."""
        for ack in acks:  # their outcome is read by `settle`, or deliberately not
            ack.add_done_callback(_ignore)
        sent, unsent = claims.mine[: len(acks)], claims.mine[len(acks) :]
        if sent:
            self.settling.spawn(self.dedupe.settle(replace(claims, mine=sent), acks, sent_at_ms))
        if unsent:  # best effort (they also go stale and are verified)
            await self.dedupe.release(replace(claims, mine=unsent))
        claims.mine = []

    async def confirm(
        self, published: Published, also: Queue | None = None, *, defer: bool = False
    ) -> list[Any]:
        """Mark the written keys done, plus the caller's `also` writes (ingress: its history;
        sync: its cursor commit) in the same round trip; the results of the `also` writes."""
        if published.claims is not None:
            return await self.dedupe.confirm(published.claims, also, defer=defer)
        if also is not None:
            return await self.dedupe.store.confirm([], self.dedupe.ttl_s, also, defer=defer)
        return []


async def _send_batch(
    producer: AIOKafkaProducer,
    partition: int,
    batch: BatchBuilder,
    acks: list[asyncio.Future[RecordMetadata]],
) -> None:
    """Hand a whole batch over (after the partition's previous batch has left): one
    acknowledgement for all its records, recorded once per record, so a failure part-way
    knows which records left."""
    if batch.record_count():
        ack = await producer.send_batch(batch, CANONICAL_RECORDS.name, partition=partition)
        acks.extend([ack] * batch.record_count())


async def _partition_of(producer: AIOKafkaProducer, topic: str, key: bytes) -> int:
    """The partition of a key: the default partitioner's (murmur2) choice, the one
    `producer.send` and `RecordLedger` make; remembered per topic and key while the topic's
    partitions stay the same (murmur2 in Python costs more than the rest of a send)."""
    partitions = await producer.partitions_for(topic)
    known = _PARTITIONS.get((topic, key))
    if known is not None and known[0] == partitions:
        return known[1]
    ordered = sorted(partitions)
    chosen: int = _PARTITIONER(key, ordered, ordered)
    if len(_PARTITIONS) >= PARTITIONS_KEPT:
        _PARTITIONS.clear()
    _PARTITIONS[(topic, key)] = (partitions, chosen)
    return chosen


def _ignore(future: asyncio.Future[object]) -> None:
    if not future.cancelled():
        future.exception()
