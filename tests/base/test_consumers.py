"""`services.base.consumers`: commit after the step, hold on any failure, park only the invalid."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest_asyncio
from aiokafka import AIOKafkaProducer

from contracts.audit import AuditEvent
from contracts.deadletter import DeadLetter
from contracts.streams import StreamStatus
from contracts.topics import AUDIT_EVENTS, DEAD_LETTERS, STREAM_STATUS
from services.base.errors import DependencyUnavailable, InvalidMessage
from services.base.infrastructure import Infrastructure
from tests.harness import TopicMarks, eventually, read_to_marker, read_topic


@pytest_asyncio.fixture(autouse=True)
async def _reads_start_at_this_test(marked_topics: TopicMarks) -> None:
    """Dead-letter reads skip what earlier tests parked (see `TopicMarks`)."""


def audit_event(workspace_id: str, action: str = "X") -> AuditEvent:
    return AuditEvent(
        event_id=f"aud_{uuid.uuid4().hex[:8]}",
        workspace_id=workspace_id,
        actor="test",
        action=action,
        target="t",
        at=time.time(),
    )


async def started(infra, name: str, wire: Callable[[Infrastructure], Any]) -> Infrastructure:
    """A service whose consumers `wire` declares, started and holding its partitions."""
    service = Infrastructure.create(infra.settings(), f"test-{name}")
    service.consumers.max_backoff_s = 0.5  # holding is what is tested, not the wait between tries
    wire(service)
    await service.start()

    async def assigned() -> bool:
        return (await service.ready())["consumers"]

    await eventually(assigned, timeout=30, what="the consumer holding partitions")
    return service


async def produce(infra, *messages: tuple[Any, bytes | None, bytes]) -> None:
    """Send (topic, value, key) triples and wait for each acknowledgement."""
    producer = AIOKafkaProducer(bootstrap_servers=infra.bootstrap_servers, acks="all")
    await producer.start()
    try:
        for topic, value, key in messages:
            await producer.send_and_wait(topic.name, value, key=key)
    finally:
        await producer.stop()


async def parked(infra, group: str, workspace: str) -> list[DeadLetter]:
    """What `group` parked of `workspace` so far (the marker proves nothing is missing).

    A new group reads the topic from the start: what earlier tests sent is parked again under
    this group too, hence the key.
    """
    marker = DeadLetter(
        source_topic=AUDIT_EVENTS.name,  # the key: the partition `group` parks audit events on
        partition=0,
        offset=0,
        consumer_group=f"marker-{uuid.uuid4().hex}",
        value=b"",
        error="marker",
        at=time.time(),
    )
    letters = await read_to_marker(infra.bootstrap_servers, DEAD_LETTERS, marker)
    return [m for m in letters if m.consumer_group == group and m.key == workspace.encode()]


def single(group: str, step: Callable[[AuditEvent], Awaitable[None]]) -> Callable:
    return lambda service: service.consumers.subscribe(AUDIT_EVENTS, group, step)


async def test_undecodable_message_is_parked_and_the_consumer_keeps_going(infra):
    workspace = f"ws_{uuid.uuid4().hex[:8]}"
    group = f"dlq-{workspace}"
    seen: list[AuditEvent] = []

    async def step(event: AuditEvent) -> None:
        if event.workspace_id == workspace:
            seen.append(event)

    service = await started(infra, group, single(group, step))
    try:
        good = audit_event(workspace, "After")
        key = workspace.encode()
        await produce(
            infra,
            (AUDIT_EVENTS, b'{"event_id": "broken', key),
            (AUDIT_EVENTS, AUDIT_EVENTS.encode(good), key),
        )
        await eventually(lambda: seen, what="the good message handled")
    finally:
        await service.stop()
    [letter] = await parked(infra, group, workspace)
    assert letter.source_topic == AUDIT_EVENTS.name and letter.key == workspace.encode()
    assert letter.value == b'{"event_id": "broken'
    assert letter.offset >= 0 and letter.partition >= 0
    assert [e.event_id for e in seen] == [good.event_id]


async def test_message_interrupted_mid_step_is_redelivered(infra):
    workspace = f"ws_{uuid.uuid4().hex[:8]}"
    group = f"commit-{workspace}"
    began = asyncio.Event()

    async def never_finishes(event: AuditEvent) -> None:
        if event.workspace_id == workspace:
            began.set()
            await asyncio.Event().wait()  # the process "dies" while this is in flight

    service = await started(infra, group, single(group, never_finishes))
    # The stop cancels the step after this grace instead of faststream's 15 s: the step never
    # finishes either way, and the redelivery is what is tested, not the wait.
    service.broker.config.broker_config.graceful_timeout = 0.5
    event = audit_event(workspace, "Interrupted")
    await produce(infra, (AUDIT_EVENTS, AUDIT_EVENTS.encode(event), workspace.encode()))
    await asyncio.wait_for(began.wait(), 20)
    await service.stop()
    redelivered: list[str] = []

    async def finishes(event: AuditEvent) -> None:
        if event.workspace_id == workspace:
            redelivered.append(event.event_id)

    service = await started(infra, group, single(group, finishes))
    try:
        await eventually(lambda: redelivered, what="the redelivery")
    finally:
        await service.stop()
    assert redelivered == [event.event_id], "an unfinished message must be redelivered"


async def test_a_dependency_outage_holds_a_single_message_until_it_answers_never_parking_it(infra):
    """More failures than the old five attempts (which parked the message): it waits instead."""
    workspace = f"ws_{uuid.uuid4().hex[:8]}"
    group = f"hold-{workspace}"
    failures: list[str] = []
    handled: list[str] = []

    async def step(event: AuditEvent) -> None:
        if event.workspace_id != workspace:
            return
        if len(failures) < 7:
            failures.append(event.event_id)
            raise (DependencyUnavailable("redis") if len(failures) % 2 else TimeoutError())
        handled.append(event.event_id)

    service = await started(infra, group, single(group, step))
    try:
        event = audit_event(workspace)
        await produce(infra, (AUDIT_EVENTS, AUDIT_EVENTS.encode(event), workspace.encode()))
        await eventually(lambda: handled, timeout=60, what="the held message handled")
    finally:
        await service.stop()
    assert handled == [event.event_id] and failures == [event.event_id] * 7
    assert await parked(infra, group, workspace) == []


async def test_a_message_its_step_declares_invalid_is_parked_at_once_and_the_next_handled(infra):
    workspace = f"ws_{uuid.uuid4().hex[:8]}"
    group = f"invalid-{workspace}"
    calls: list[str] = []

    async def step(event: AuditEvent) -> None:
        if event.workspace_id == workspace:
            calls.append(event.action)
            if event.action == "Poison":
                raise InvalidMessage("target names no known entity")

    service = await started(infra, group, single(group, step))
    try:
        poison, after = audit_event(workspace, "Poison"), audit_event(workspace, "After")
        key = workspace.encode()
        await produce(
            infra,
            (AUDIT_EVENTS, AUDIT_EVENTS.encode(poison), key),
            (AUDIT_EVENTS, AUDIT_EVENTS.encode(after), key),
        )
        await eventually(lambda: "After" in calls, what="the next message handled")
    finally:
        await service.stop()
    [letter] = await parked(infra, group, workspace)
    assert letter.error == "target names no known entity"
    assert AUDIT_EVENTS.decode(letter.value) == poison
    assert calls == ["Poison", "After"]


async def test_a_batch_is_split_by_topic_tombstones_skipped_undecodable_parked(infra):
    workspace = f"ws_{uuid.uuid4().hex[:8]}"
    group = f"batch-{workspace}"
    audits: list[AuditEvent] = []
    statuses: list[StreamStatus] = []

    async def on_audit(batch: list[AuditEvent]) -> None:
        audits.extend(e for e in batch if e.workspace_id == workspace)

    async def on_status(batch: list[StreamStatus]) -> None:
        statuses.extend(s for s in batch if s.workspace_id == workspace)

    steps = {AUDIT_EVENTS: on_audit, STREAM_STATUS: on_status}
    service = await started(infra, group, lambda s: s.consumers.subscribe_batch(group, steps))
    assert service.consumers.consumes == [AUDIT_EVENTS.name, STREAM_STATUS.name]
    try:
        event = audit_event(workspace)
        status = StreamStatus(
            workspace_id=workspace,
            installation_id="ins_1",
            extension_key="k",
            stream="s",
            state="ok",
            at=time.time(),
        )
        status_key = STREAM_STATUS.encode_key(status)
        await produce(
            infra,
            (AUDIT_EVENTS, b'{"broken', workspace.encode()),
            (AUDIT_EVENTS, AUDIT_EVENTS.encode(event), workspace.encode()),
            # A tombstone ahead of the status on the same key (same partition, handled first).
            (STREAM_STATUS, None, status_key),
            (STREAM_STATUS, STREAM_STATUS.encode(status), status_key),
        )
        await eventually(lambda: audits and statuses, what="both parts handled")
    finally:
        await service.stop()
    assert [e.event_id for e in audits] == [event.event_id]
    assert [s.stream for s in statuses] == ["s"]
    [letter] = await parked(infra, group, workspace)
    assert letter.value == b'{"broken'


async def test_a_store_outage_holds_the_batch_until_the_store_answers_never_parking_it(infra):
    """A log store (ClickHouse) that is down for longer than every retry: the batch waits."""
    workspace = f"ws_{uuid.uuid4().hex[:8]}"
    group = f"outage-{workspace}"
    failures: list[float] = []
    stored: list[AuditEvent] = []

    async def on_audit(batch: list[AuditEvent]) -> None:
        mine = [e for e in batch if e.workspace_id == workspace]
        if mine and len(failures) < 6:
            failures.append(time.monotonic())
            raise DependencyUnavailable("clickhouse")
        stored.extend(mine)

    wire = lambda s: s.consumers.subscribe_batch(group, {AUDIT_EVENTS: on_audit})  # noqa: E731
    service = await started(infra, group, wire)
    try:
        event = audit_event(workspace)
        await produce(infra, (AUDIT_EVENTS, AUDIT_EVENTS.encode(event), workspace.encode()))
        await eventually(lambda: stored, timeout=60, what="the held batch stored")
    finally:
        await service.stop()
    assert [e.event_id for e in stored] == [event.event_id] and len(failures) == 6
    assert await parked(infra, group, workspace) == []


async def test_a_batch_part_its_step_declares_invalid_is_parked_whole(infra):
    workspace = f"ws_{uuid.uuid4().hex[:8]}"
    group = f"poison-{workspace}"
    calls: list[int] = []

    async def on_audit(batch: list[AuditEvent]) -> None:
        if any(e.workspace_id == workspace for e in batch):
            calls.append(1)
            raise InvalidMessage("the store refuses these rows")

    wire = lambda s: s.consumers.subscribe_batch(group, {AUDIT_EVENTS: on_audit})  # noqa: E731
    service = await started(infra, group, wire)
    try:
        event, event_key = audit_event(workspace), workspace.encode()
        await produce(infra, (AUDIT_EVENTS, AUDIT_EVENTS.encode(event), event_key))
        await read_topic(
            infra.bootstrap_servers,
            DEAD_LETTERS,
            lambda ms: any(m.consumer_group == group and m.key == event_key for m in ms),
        )
    finally:
        await service.stop()
    assert len(calls) == 1
    letters = await parked(infra, group, workspace)
    assert [m.key for m in letters] == [workspace.encode()]
    assert letters[0].error == "the store refuses these rows"
