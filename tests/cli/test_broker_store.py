"""The embedded broker's topics survive a clean stop: saved, then written back into a fresh one.

Real Tansu processes: one is filled, its topics saved and the process stopped; a second,
empty one gets them back at the same offsets, with the consumer groups' positions.
"""

from __future__ import annotations

import asyncio
import tracemalloc
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from cli import broker_store
from cli.embedded import on_free_port, start_broker
from contracts.topics import EXTENSION_LOGS, WEBHOOK_DELIVERIES
from services.base.kafka import ensure_topics


async def _fill(bootstrap: str) -> dict[tuple[int, int], bytes]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    written: dict[tuple[int, int], bytes] = {}
    try:
        for n in range(30):
            body = f"delivery {n}".encode()
            meta = await producer.send_and_wait(
                WEBHOOK_DELIVERIES.name, body, key=f"ins_{n % 4}".encode(), headers=[("h", b"v")]
            )
            written[(meta.partition, meta.offset)] = body
        await producer.send_and_wait(EXTENSION_LOGS.name, b"a log line", key=b"k")
    finally:
        await producer.stop()
    return written


async def _read(bootstrap: str, where: list[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False
    )
    await consumer.start()
    found: dict[tuple[int, int], bytes] = {}
    try:
        for partition, offset in where:
            tp = TopicPartition(WEBHOOK_DELIVERIES.name, partition)
            consumer.assign([tp])
            consumer.seek(tp, offset)
            record = await asyncio.wait_for(consumer.getone(), 10)
            assert record.headers and dict(record.headers)["h"] == b"v"
            found[(partition, offset)] = record.value
    finally:
        await consumer.stop()
    return found


async def _commit(bootstrap: str, group: str, offset: int) -> None:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        tp = TopicPartition(EXTENSION_LOGS.name, 0)
        consumer.assign([tp])
        await consumer.commit({tp: offset})
    finally:
        await consumer.stop()


async def _committed(bootstrap: str, group: str) -> int | None:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        return await consumer.committed(TopicPartition(EXTENSION_LOGS.name, 0))
    finally:
        await consumer.stop()


def test_topics_saved_at_a_clean_stop_come_back_at_their_offsets(tmp_path: Path) -> None:
    saved_dir = tmp_path / "broker"
    first = on_free_port(lambda port: start_broker(port, tmp_path / "first.log"))
    try:
        bootstrap = f"127.0.0.1:{first.port}"
        asyncio.run(ensure_topics(bootstrap))
        written = asyncio.run(_fill(bootstrap))
        asyncio.run(_commit(bootstrap, "logs-test", 1))
        assert broker_store.save(bootstrap, saved_dir, ["logs-test"]) == 31
    finally:
        first.stop()

    second = on_free_port(lambda port: start_broker(port, tmp_path / "second.log"))
    try:
        bootstrap = f"127.0.0.1:{second.port}"
        asyncio.run(ensure_topics(bootstrap))
        restored = broker_store.restore(bootstrap, saved_dir)
        assert restored is not None and restored.messages == 31 and restored.moved == 0
        assert asyncio.run(_read(bootstrap, sorted(written))) == written
        assert restored.groups >= 1  # consumer groups resume where they had committed
        assert asyncio.run(_committed(bootstrap, "logs-test")) == 1
    finally:
        second.stop()


def test_nothing_saved_restores_nothing(tmp_path: Path) -> None:
    assert broker_store.restore("127.0.0.1:9", tmp_path / "never") is None


async def _fill_large(bootstrap: str, count: int, size: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", max_request_size=2 * size)
    await producer.start()
    try:
        for n in range(count):
            await producer.send_and_wait(
                WEBHOOK_DELIVERIES.name, bytes([n % 256]) * size, key=b"ins_big"
            )
    finally:
        await producer.stop()


def test_saving_and_restoring_hold_a_chunk_in_memory_not_every_topic(tmp_path: Path) -> None:
    count, size = 48, 256 * 1024  # 12 MiB of deliveries
    first = on_free_port(lambda port: start_broker(port, tmp_path / "first.log"))
    try:
        bootstrap = f"127.0.0.1:{first.port}"
        asyncio.run(ensure_topics(bootstrap))
        asyncio.run(_fill_large(bootstrap, count, size))
        tracemalloc.start()
        try:
            saved = broker_store.save(bootstrap, tmp_path / "broker")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    finally:
        first.stop()
    assert saved == count
    assert peak < 6 * 1024 * 1024, f"saving 12 MiB held {peak / 2**20:.1f} MiB at once"
    second = on_free_port(lambda port: start_broker(port, tmp_path / "second.log"))
    try:
        bootstrap = f"127.0.0.1:{second.port}"
        asyncio.run(ensure_topics(bootstrap))
        tracemalloc.start()
        try:
            restored = broker_store.restore(bootstrap, tmp_path / "broker")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    finally:
        second.stop()
    assert restored is not None and (restored.messages, restored.moved) == (count, 0)
    assert peak < 6 * 1024 * 1024, f"restoring 12 MiB held {peak / 2**20:.1f} MiB at once"
