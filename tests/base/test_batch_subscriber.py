"""`Infrastructure.subscribe_batch`: one consumer for several topics, parts handed per topic."""

from __future__ import annotations

import asyncio
import time
import uuid

from aiokafka import AIOKafkaProducer

from contracts.audit import AuditEvent
from contracts.streams import StreamStatus
from contracts.topics import AUDIT_EVENTS, DEAD_LETTERS, STREAM_STATUS
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
