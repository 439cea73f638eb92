"""Keeps the embedded broker's topics across a clean stop of `backfill up`.

Tansu (the embedded broker) stores topics in memory only and its wheel offers no on-disk
storage engine (only memory, S3 and Postgres URLs). So `backfill up` saves every registry
topic's messages (key, value, headers, timestamp, in offset order per partition) and the
committed offsets of every consumer group to `<BACKFILL_HOME>/broker/` after the services
stopped and before the broker stops, and writes them back into the fresh broker at the next
start, before any service starts. A topic that started at offset 0 and has no gaps gets
every message back at its old offset, so ingress history (which points at partition and
offset) finds each stored body again; any message that lands elsewhere is counted and
reported. A suite killed without a clean stop restores the previous save: what arrived
since is gone, and replay says so.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import msgspec
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from contracts.topics import TOPICS

SAVE_FILE = "topics.msgpack"


class Saved(msgspec.Struct, frozen=True, kw_only=True):
    """One message as it was on the topic."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]] = []
    timestamp_ms: int | None = None


class GroupOffset(msgspec.Struct, frozen=True, kw_only=True):
    """Where a consumer group had committed, per partition."""

    group: str
    topic: str
    partition: int
    offset: int


class Snapshot(msgspec.Struct, frozen=True, kw_only=True):
    """Everything saved at one clean stop."""

    saved_at: float
    messages: list[Saved]
    groups: list[GroupOffset] = []


class Restored(msgspec.Struct, frozen=True, kw_only=True):
    """What a restore wrote back."""

    messages: int
    moved: int  # messages that landed at another offset than they had
    groups: int


def save(bootstrap: str, directory: Path, groups: list[str] = (), timeout_s: float = 30.0) -> int:
    """Read every registry topic to its end and write the snapshot; return the messages.

    `groups` are the consumer groups whose positions are kept (Tansu cannot list groups).
    """
    snapshot = asyncio.run(_snapshot(bootstrap, list(groups), timeout_s))
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = directory / (SAVE_FILE + ".tmp")
    # Deliveries' raw bodies are in it: readable by the suite's own user only.
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(msgspec.msgpack.encode(snapshot))
    os.replace(temporary, directory / SAVE_FILE)  # a crash mid-save keeps the previous one
    return len(snapshot.messages)


def restore(bootstrap: str, directory: Path) -> Restored | None:
    """Write the last snapshot back into an empty broker; None when there is none."""
    path = directory / SAVE_FILE
    if not path.exists():
        return None
    snapshot = msgspec.msgpack.decode(path.read_bytes(), type=Snapshot)
    return asyncio.run(_write_back(bootstrap, snapshot))


async def _snapshot(bootstrap: str, names: list[str], timeout_s: float) -> Snapshot:
    messages = await _read_all(bootstrap, timeout_s)
    groups = await _group_offsets(bootstrap, names)
    return Snapshot(saved_at=time.time(), messages=messages, groups=groups)


async def _write_back(bootstrap: str, snapshot: Snapshot) -> Restored:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=False,
        max_batch_size=1024 * 1024,
        linger_ms=5,
        client_id="backfill-restore",
    )
    await producer.start()
    try:
        pending = [
            (
                message,
                await producer.send(
                    message.topic,
                    message.value,
                    key=message.key,
                    partition=message.partition,
                    headers=list(message.headers),
                    timestamp_ms=message.timestamp_ms,
                ),
            )
            for message in snapshot.messages
        ]
        moved = 0
        for message, ack in pending:
            metadata = await ack
            moved += metadata.offset != message.offset
    finally:
        await producer.stop()
    groups = await _commit_groups(bootstrap, snapshot.groups)
    return Restored(messages=len(snapshot.messages), moved=moved, groups=groups)


async def _read_all(bootstrap: str, timeout_s: float) -> list[Saved]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        client_id="backfill-save",
    )
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic.name, p)
            for topic in TOPICS
            for p in sorted(consumer.partitions_for_topic(topic.name) or ())
        ]
        if not partitions:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        left = {tp for tp in partitions if ends[tp] > 0}
        saved: list[Saved] = []
        async with asyncio.timeout(timeout_s):
            while left:
                batches = await consumer.getmany(*left, timeout_ms=500, max_records=5000)
                for tp, records in batches.items():
                    for record in records:
                        if record.offset < ends[tp]:
                            saved.append(_saved(record))
                    if records and records[-1].offset + 1 >= ends[tp]:
                        left.discard(tp)
                for tp in list(left):
                    if await consumer.position(tp) >= ends[tp]:
                        left.discard(tp)
        saved.sort(key=lambda m: (m.topic, m.partition, m.offset))
        return saved
    finally:
        await consumer.stop()


def _saved(record: object) -> Saved:
    return Saved(
        topic=record.topic,  # type: ignore[attr-defined]
        partition=record.partition,  # type: ignore[attr-defined]
        offset=record.offset,  # type: ignore[attr-defined]
        key=record.key,  # type: ignore[attr-defined]
        value=record.value,  # type: ignore[attr-defined]
        headers=[(k, bytes(v)) for k, v in (record.headers or ())],  # type: ignore[attr-defined]
        timestamp_ms=record.timestamp,  # type: ignore[attr-defined]
    )


async def _group_offsets(bootstrap: str, names: list[str]) -> list[GroupOffset]:
    """Committed offsets of the named consumer groups (read as each group: OffsetFetch)."""
    offsets: list[GroupOffset] = []
    for name in names:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=name,
            enable_auto_commit=False,
            client_id="backfill-save",
        )
        await consumer.start()
        try:
            for topic in TOPICS:
                for partition in sorted(consumer.partitions_for_topic(topic.name) or ()):
                    committed = await consumer.committed(TopicPartition(topic.name, partition))
                    if committed is not None and committed >= 0:
                        offsets.append(
                            GroupOffset(
                                group=name, topic=topic.name, partition=partition, offset=committed
                            )
                        )
        finally:
            await consumer.stop()
    return offsets


async def _commit_groups(bootstrap: str, offsets: list[GroupOffset]) -> int:
    """Commit each group's saved offsets, so consumers resume where they stopped."""
    by_group: dict[str, dict[TopicPartition, OffsetAndMetadata]] = {}
    for saved in offsets:
        by_group.setdefault(saved.group, {})[TopicPartition(saved.topic, saved.partition)] = (
            OffsetAndMetadata(saved.offset, "")
        )
    done = 0
    for group, committed in by_group.items():
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=group,
            enable_auto_commit=False,
            client_id="backfill-restore",
        )
        await consumer.start()
        try:
            consumer.assign(list(committed))
            await consumer.commit(committed)
            done += 1
        except Exception:  # consumers then start from their reset policy (idempotent)
            continue
        finally:
            await consumer.stop()
    return done
