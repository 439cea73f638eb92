"""`Infrastructure.subscribe_batch`: one consumer for several topics, parts handed per topic."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from aiokafka import AIOKafkaProducer

from contracts.audit import AuditEvent
from contracts.streams import StreamStatus
from contracts.topics import AUDIT_EVENTS, DEAD_LETTERS, STREAM_STATUS
from services.base.errors import DependencyUnavailable
from services.base.infrastructure import Infrastructure
from tests.harness import read_topic


async def test_a_batch_is_split_by_topic_and_undecodable_messages_are_parked(infra):
    """Tombstones (a compacted topic's deletions, e.g. sync's on uninstall) are skipped."""
    workspace = f"ws_{uuid.uuid4().hex[:8]}"
    audits: list[AuditEvent] = []
    statuses: list[StreamStatus] = []

    async def on_audit(batch: list[AuditEvent]) -> None:
        audits.extend(e for e in batch if e.workspace_id == workspace)

    async def on_status(batch: list[StreamStatus]) -> None:
        statuses.extend(s for s in batch if s.workspace_id == workspace)

    service = Infrastructure.create(infra.settings(), "test-batch")
    service.subscribe_batch(
        f"batch-{workspace}", {AUDIT_EVENTS: on_audit, STREAM_STATUS: on_status}
    )
    assert service.consumes == [AUDIT_EVENTS.name, STREAM_STATUS.name]
    await service.start()
    try:
        deadline = time.monotonic() + 30
        while not (await service.readiness())["consumers"]:
            assert time.monotonic() < deadline, "consumer never got partitions"
            await asyncio.sleep(0.1)
        event = AuditEvent(
            event_id="evt_1",
            workspace_id=workspace,
            actor="a",
            action="X",
            target="t",
            at=time.time(),
        )
        status = StreamStatus(
            workspace_id=workspace,
            installation_id="ins_1",
            extension_key="k",
            stream="s",
            state="ok",
            at=time.time(),
        )
        producer = AIOKafkaProducer(bootstrap_servers=infra.bootstrap_servers, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(AUDIT_EVENTS.name, b'{"broken', key=workspace.encode())
            await producer.send_and_wait(
                AUDIT_EVENTS.name, AUDIT_EVENTS.encode(event), key=workspace.encode()
            )
            # A tombstone ahead of the status on the same key (same partition, so handled first).
            await producer.send_and_wait(
                STREAM_STATUS.name, None, key=STREAM_STATUS.encode_key(status)
            )
            await producer.send_and_wait(
                STREAM_STATUS.name,
                STREAM_STATUS.encode(status),
                key=STREAM_STATUS.encode_key(status),
            )
        finally:
            await producer.stop()
        letters = await read_topic(
            infra.bootstrap_servers,
            DEAD_LETTERS,
            lambda ms: any(m.key == workspace.encode() for m in ms),
        )
        assert next(m for m in letters if m.key == workspace.encode()).value == b'{"broken'
        deadline = time.monotonic() + 20
        while not (audits and statuses) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert [e.event_id for e in audits] == ["evt_1"]
        assert [s.stream for s in statuses] == ["s"]
        letters = await read_topic(
            infra.bootstrap_servers,
            DEAD_LETTERS,
            lambda ms: any(m.key == workspace.encode() for m in ms),
        )
        assert not [m for m in letters if m.key == STREAM_STATUS.encode_key(status)]
    finally:
        await service.stop()


async def _delivered(infra, service: Infrastructure, workspace: str) -> None:
    """Start `service`, wait for its partitions, then publish one audit event of `workspace`."""
    await service.start()
    deadline = time.monotonic() + 30
    while not (await service.readiness())["consumers"]:
        assert time.monotonic() < deadline, "consumer never got partitions"
        await asyncio.sleep(0.1)
    event = AuditEvent(
        event_id=f"evt_{workspace}",
        workspace_id=workspace,
        actor="a",
        action="X",
        target="t",
        at=time.time(),
    )
    producer = AIOKafkaProducer(bootstrap_servers=infra.bootstrap_servers, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            AUDIT_EVENTS.name, AUDIT_EVENTS.encode(event), key=workspace.encode()
        )
    finally:
        await producer.stop()


async def test_a_store_outage_holds_the_batch_until_the_store_answers_never_parking_it(infra):
    """A log store (ClickHouse) that is down for longer than every retry: the batch waits."""
    workspace = f"ws_{uuid.uuid4().hex[:8]}"
    failures: list[float] = []
    stored: list[AuditEvent] = []

    async def on_audit(batch: list[AuditEvent]) -> None:
        mine = [e for e in batch if e.workspace_id == workspace]
        if mine and len(failures) < 5:  # more failures than `attempts`: the old code parked it
            failures.append(time.monotonic())
            raise DependencyUnavailable("clickhouse")
        stored.extend(mine)

    service = Infrastructure.create(infra.settings(), "test-outage")
    service.subscribe_batch(f"outage-{workspace}", {AUDIT_EVENTS: on_audit}, attempts=3)
    try:
        await _delivered(infra, service, workspace)
        deadline = time.monotonic() + 60
        while not stored and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
    finally:
        await service.stop()
    assert [e.event_id for e in stored] == [f"evt_{workspace}"]
    assert len(failures) == 5
    with pytest.raises(AssertionError, match="condition not met"):  # nothing parked
        await read_topic(
            infra.bootstrap_servers,
            DEAD_LETTERS,
            lambda ms: any(m.key == workspace.encode() for m in ms),
            timeout=3,
        )


async def test_a_batch_its_handler_keeps_failing_on_is_parked_after_its_attempts(infra):
    workspace = f"ws_{uuid.uuid4().hex[:8]}"
    calls: list[int] = []

    async def on_audit(batch: list[AuditEvent]) -> None:
        if any(e.workspace_id == workspace for e in batch):
            calls.append(1)
            raise ValueError("a bad batch, not an outage")

    service = Infrastructure.create(infra.settings(), "test-poison")
    service.subscribe_batch(f"poison-{workspace}", {AUDIT_EVENTS: on_audit}, attempts=3)
    try:
        await _delivered(infra, service, workspace)
        letters = await read_topic(
            infra.bootstrap_servers,
            DEAD_LETTERS,
            lambda ms: any(m.key == workspace.encode() for m in ms),
        )
    finally:
        await service.stop()
    assert len(calls) == 3
    assert [m for m in letters if m.key == workspace.encode()]
