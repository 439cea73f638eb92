"""The log-lines consumer on the real broker and the real embedded store (chDB).

The store outage is injected at the dependency boundary, the way a ClickHouse server that
refuses connections reaches the consumer: the store call raises `DependencyUnavailable`.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Sequence

import pytest_asyncio
from aiokafka import AIOKafkaConsumer, TopicPartition

from contracts.topics import EXTENSION_LOGS
from services.base.errors import DependencyUnavailable
from services.logs.store.clickhouse import ClickHouse
from services.logs.store.lines import LogLineStore
from services.logs.store.schema import log_lines_ddl
from services.logs.subscribers.lines import LineConsumer
from tests.harness import eventually, logs_store_dir
from tests.logs.factories import log_line, publish_all


@pytest_asyncio.fixture(scope="module")
async def store() -> AsyncIterator[LogLineStore]:
    clickhouse = ClickHouse("", logs_store_dir(), log_lines_ddl(14, {}))
    await clickhouse.open()
    yield LogLineStore(clickhouse)
    await clickhouse.close()


async def stored(store: LogLineStore, workspace_id: str) -> tuple[int, int]:
    """(rows, distinct log ids) of the workspace, repeats not merged away by a read."""
    rows = await store.clickhouse.rows(
        "SELECT count(), uniqExact(log_id) FROM log_lines WHERE workspace_id = {w:String}",
        {"w": workspace_id},
    )
    return int(rows[0][0]), int(rows[0][1])


def consumer(infra, group_id: str, store_call, parked: list[object]) -> LineConsumer:
    async def park(record: object, error: str) -> None:
        parked.append(record)

    return LineConsumer(
        bootstrap_servers=infra.bootstrap_servers,
        group_id=group_id,
        store=store_call,
        show=lambda raws: None,
        park=park,
        max_records=200,
        poll_ms=10,
        fetch_max_wait_ms=20,
    )


async def from_the_end(infra, group_id: str) -> None:
    """Commit the group at the topic's end: what earlier tests wrote is not this test's."""
    probe = AIOKafkaConsumer(
        bootstrap_servers=infra.bootstrap_servers, group_id=group_id, enable_auto_commit=False
    )
    await probe.start()
    try:
        partitions = [
            TopicPartition(EXTENSION_LOGS.name, p) for p in range(EXTENSION_LOGS.partitions)
        ]
        probe.assign(partitions)
        ends = await probe.end_offsets(partitions)
        await probe.commit({tp: offset for tp, offset in ends.items()})
    finally:
        await probe.stop()


async def assigned(line_consumer: LineConsumer) -> None:
    deadline = time.monotonic() + 60
    while not line_consumer.assigned():
        assert time.monotonic() < deadline, "the consumer never got partitions"
        await asyncio.sleep(0.1)


async def test_a_store_outage_holds_the_batch_and_every_line_is_stored_once(infra, store):
    workspace_id = f"ws_{uuid.uuid4().hex[:8]}"
    group_id = f"lines-{uuid.uuid4().hex[:8]}"
    down = True
    refused = 0
    parked: list[object] = []
    # What this consumer stored: other logs apps of this test process share the embedded
    # store and may store the same topic's lines too, so the store's count proves nothing.
    mine: list[bytes] = []

    def stored_by_me() -> tuple[int, int]:
        ours = [raw for raw in mine if workspace_id.encode() in raw]
        return len(ours), len(set(ours))

    async def store_call(raws: Sequence[bytes]) -> None:
        nonlocal refused
        if down:
            refused += 1
            raise DependencyUnavailable("clickhouse")
        await store.add_raw(raws)
        mine.extend(bytes(raw) for raw in raws)

    await from_the_end(infra, group_id)
    first = consumer(infra, group_id, store_call, parked)
    first.start()
    try:
        await assigned(first)
        lines = [log_line(workspace_id=workspace_id, message=f"line {n}") for n in range(500)]
        await publish_all(infra, EXTENSION_LOGS, lines)
        # The outage lasts longer than every retry a refused batch would get.
        await eventually(lambda: asyncio.sleep(0, refused), lambda n: n >= 4, timeout=60)
        assert stored_by_me() == (0, 0)
        down = False
        assert await eventually(stored_by_me, lambda s: s[0] >= 500, timeout=60) == (500, 500)
    finally:
        await first.stop()
    # Offsets were committed after the inserts: the group's next member reads only what is new.
    second = consumer(infra, group_id, store_call, parked)
    second.start()
    try:
        await assigned(second)
        await publish_all(infra, EXTENSION_LOGS, [log_line(workspace_id=workspace_id)])
        assert await eventually(stored_by_me, lambda s: s[0] >= 501, timeout=60) == (501, 501)
    finally:
        await second.stop()
    assert parked == []
