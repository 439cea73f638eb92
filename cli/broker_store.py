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

Saving and restoring stream: messages go to the file in chunks of about `CHUNK_BYTES` as they
are read, and come back chunk by chunk, so memory stays bounded by a chunk (plus the
clients' fetch buffers), not by the size of every topic.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

import msgspec
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from contracts.topics import TOPICS

SAVE_FILE = "topics.msgpack"
MAGIC = b"backfill-topics/2\n"  # then frames: 4-byte big-endian length + msgpack
CHUNK_BYTES = 1024 * 1024
FETCH_BYTES = 1024 * 1024  # what the saving consumer buffers per fetch


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
    """Everything saved at one clean stop (the format before chunks; still restored)."""

    saved_at: float
    messages: list[Saved]
    groups: list[GroupOffset] = []


class Chunk(msgspec.Struct, frozen=True, tag="chunk"):
    """Messages of the save, in offset order per partition."""

    messages: list[Saved]


class Trailer(msgspec.Struct, frozen=True, tag="trailer"):
    """The last frame: when, and the consumer groups' positions."""

    saved_at: float
    groups: list[GroupOffset] = []


Frame = Chunk | Trailer


class Restored(msgspec.Struct, frozen=True, kw_only=True):
    """What a restore wrote back."""

    messages: int
    moved: int  # messages that landed at another offset than they had
    groups: int


def save(
    bootstrap: str, directory: Path, groups: Sequence[str] = (), timeout_s: float = 30.0
) -> int:
    """Read every registry topic to its end into the save file; return the messages.

    `groups` are the consumer groups whose positions are kept (Tansu cannot list groups).
    """
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = directory / (SAVE_FILE + ".tmp")
    # Deliveries' raw bodies are in it: readable by the suite's own user only.
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(MAGIC)
        count = asyncio.run(_save_to(out, bootstrap, list(groups), timeout_s))
    os.replace(temporary, directory / SAVE_FILE)  # a crash mid-save keeps the previous one
    return count


def restore(bootstrap: str, directory: Path) -> Restored | None:
    """Write the last save back into an empty broker; None when there is none."""
    path = directory / SAVE_FILE
    if not path.exists():
        return None
    with path.open("rb") as file:
        if file.read(len(MAGIC)) != MAGIC:  # a save from before chunks: one msgpack document
            file.seek(0)
            old = msgspec.msgpack.decode(file.read(), type=Snapshot)
            return asyncio.run(
                _write_back(bootstrap, [Chunk(old.messages), Trailer(0, old.groups)])
            )
        return asyncio.run(_write_back(bootstrap, _frames(file)))


def _frames(file: BinaryIO) -> Iterator[Frame]:
    decoder = msgspec.msgpack.Decoder(Frame)
    while header := file.read(4):
        yield decoder.decode(file.read(int.from_bytes(header, "big")))


def _write_frame(out: BinaryIO, frame: Frame) -> None:
    body = msgspec.msgpack.encode(frame)
    out.write(len(body).to_bytes(4, "big"))
    out.write(body)


async def _save_to(out: BinaryIO, bootstrap: str, groups: list[str], timeout_s: float) -> int:
    count, chunk, size = 0, [], 0
    async for message in _read_all(bootstrap, timeout_s):
        chunk.append(message)
        size += len(message.value or b"") + len(message.key or b"") + 64
        if size >= CHUNK_BYTES:
            _write_frame(out, Chunk(chunk))
            count, chunk, size = count + len(chunk), [], 0
    if chunk:
        _write_frame(out, Chunk(chunk))
        count += len(chunk)
    offsets = await _group_offsets(bootstrap, groups)
    _write_frame(out, Trailer(saved_at=time.time(), groups=offsets))
    return count


async def _write_back(bootstrap: str, frames: Iterable[Frame]) -> Restored:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=False,
        max_batch_size=1024 * 1024,
        linger_ms=5,
        client_id="backfill-restore",
    )
    await producer.start()
    messages = moved = 0
    groups: list[GroupOffset] = []
    try:
        for frame in frames:
            if isinstance(frame, Trailer):
                groups = frame.groups
                continue
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
                for message in frame.messages
            ]
            for message, ack in pending:  # one chunk in flight: memory stays bounded
                metadata = await ack
                moved += metadata.offset != message.offset
            messages += len(pending)
    finally:
        await producer.stop()
    committed = await _commit_groups(bootstrap, groups)
    return Restored(messages=messages, moved=moved, groups=committed)


async def _read_all(bootstrap: str, timeout_s: float) -> AsyncIterator[Saved]:
    """Every message of every registry topic up to its end now, in offset order per partition."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        client_id="backfill-save",
        fetch_max_bytes=FETCH_BYTES,
        max_partition_fetch_bytes=FETCH_BYTES,
    )
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic.name, p)
            for topic in TOPICS
            for p in sorted(consumer.partitions_for_topic(topic.name) or ())
        ]
        if not partitions:
            return
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        async with asyncio.timeout(timeout_s):
            for tp in partitions:  # one partition at a time: its order is the file's
                if ends[tp] == 0:
                    continue
                others = [p for p in partitions if p != tp]
                consumer.pause(*others)
                consumer.resume(tp)
                while await consumer.position(tp) < ends[tp]:
                    batches = await consumer.getmany(tp, timeout_ms=500, max_records=500)
                    for record in batches.get(tp, []):
                        if record.offset < ends[tp]:
                            yield _saved(record)
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
