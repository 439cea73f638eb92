"""Subscribers commit after processing and park undecodable messages on the dead-letter topic."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer

from contracts.audit import AuditEvent
from contracts.topics import AUDIT_EVENTS, DEAD_LETTERS
from services.base.infrastructure import Infrastructure
from tests.harness import TopicMarks, eventually, read_topic


@pytest_asyncio.fixture(autouse=True)
async def _reads_start_at_this_test(marked_topics: TopicMarks) -> None:
    """Dead-letter reads skip what earlier tests parked (see `TopicMarks`)."""


def audit_event(workspace_id: str, action: str) -> AuditEvent:
    return AuditEvent(
        event_id=f"aud_{uuid.uuid4().hex[:8]}",
        workspace_id=workspace_id,
        actor="test",
        action=action,
        target="t",
        at=time.time(),
    )


async def started_consumer(infra, group: str, handler) -> Infrastructure:
    service = Infrastructure.create(infra.settings(), f"test-{group}")
    service.subscribe(AUDIT_EVENTS, group, handler)
    await service.start()

    async def assigned() -> bool:
        return (await service.readiness())["consumers"]

    await eventually(assigned, timeout=30, what="the consumer holding partitions")
    return service


async def produce(infra, *messages: tuple[bytes, bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=infra.bootstrap_servers, acks="all")
    await producer.start()
    try:
        for key, value in messages:
            await producer.send_and_wait(AUDIT_EVENTS.name, value, key=key)
    finally:
        await producer.stop()


async def test_undecodable_message_goes_to_dead_letter_topic_and_consumer_keeps_going(infra):
    workspace = f"ws_{uuid.uuid4().hex[:8]}"
    seen: list[AuditEvent] = []

    async def handler(event: AuditEvent) -> None:
        if event.workspace_id == workspace:
            seen.append(event)

    service = await started_consumer(infra, f"dlq-{workspace}", handler)
    try:
        good = audit_event(workspace, "After")
        await produce(
            infra,
            (workspace.encode(), b'{"event_id": "broken'),
            (workspace.encode(), AUDIT_EVENTS.encode(good)),
        )
        letters = await read_topic(
            infra.bootstrap_servers,
            DEAD_LETTERS,
            lambda ms: any(m.key == workspace.encode() for m in ms),
        )
        letter = next(m for m in letters if m.key == workspace.encode())
        assert letter.source_topic == AUDIT_EVENTS.name
        assert letter.value == b'{"event_id": "broken'
        assert letter.offset >= 0 and letter.partition >= 0
        await eventually(lambda: seen, what="the good message handled")
        assert [e.event_id for e in seen] == [good.event_id]
    finally:
        await service.stop()


async def test_message_interrupted_mid_handler_is_redelivered(infra):
    workspace = f"ws_{uuid.uuid4().hex[:8]}"
    group = f"commit-{workspace}"
    started = asyncio.Event()

    async def never_finishes(event: AuditEvent) -> None:
        if event.workspace_id == workspace:
            started.set()
            await asyncio.Event().wait()  # the process "dies" while this is in flight

    service = await started_consumer(infra, group, never_finishes)
    event = audit_event(workspace, "Interrupted")
    await produce(infra, (workspace.encode(), AUDIT_EVENTS.encode(event)))
    await asyncio.wait_for(started.wait(), 20)
    await service.stop()

    redelivered: list[str] = []

    async def finishes(event: AuditEvent) -> None:
        if event.workspace_id == workspace:
            redelivered.append(event.event_id)

    service = await started_consumer(infra, group, finishes)
    try:
        await eventually(lambda: redelivered, what="the redelivery")
        assert redelivered == [event.event_id], "an unfinished message must be redelivered"
    finally:
        await service.stop()


async def test_handler_that_keeps_failing_parks_the_message_and_moves_on(infra):
    workspace = f"ws_{uuid.uuid4().hex[:8]}"
    group = f"failing-{workspace}"
    calls: list[str] = []

    async def failing(event: AuditEvent) -> None:
        if event.workspace_id == workspace:
            calls.append(event.action)
            if event.action == "Poison":
                raise RuntimeError("cannot process this one")

    service = await started_consumer(infra, group, failing)
    try:
        poison, after = audit_event(workspace, "Poison"), audit_event(workspace, "After")
        await produce(
            infra,
            (workspace.encode(), AUDIT_EVENTS.encode(poison)),
            (workspace.encode(), AUDIT_EVENTS.encode(after)),
        )
        mine = lambda m: m.consumer_group == group and m.key == workspace.encode()  # noqa: E731
        letters = await read_topic(
            infra.bootstrap_servers, DEAD_LETTERS, lambda ms: any(map(mine, ms))
        )
        letter = next(m for m in letters if mine(m))
        assert "cannot process this one" in letter.error
        assert AUDIT_EVENTS.decode(letter.value) == poison
        await eventually(lambda: "After" in calls, what="the next message handled")
        assert calls.count("Poison") == 5 and calls[-1] == "After"
    finally:
        await service.stop()


@pytest.mark.parametrize("service", ["registry", "ingress", "sync", "logs"])
async def test_service_asyncapi_lists_its_topics_with_msgspec_schemas(service, infra, http):
    import importlib

    from services.base.settings import load
    from tests.harness import logs_store_dir, serving

    module = importlib.import_module(f"services.{service}.app")
    settings_module = importlib.import_module(f"services.{service}.settings")
    settings_cls = next(v for k, v in vars(settings_module).items() if k.endswith("Settings"))
    # The logs service opens its embedded store: this test process' one directory, never the
    # repository's .backfill/ (chDB holds a single directory per process).
    environ = {"UNUSED_DATA_DIR": logs_store_dir()} if service == "logs" else {}
    app = module.create_app(load(settings_cls, "UNUSED_", environ), infra.settings())
    async with serving(app) as url:
        document = (await http.get(f"{url}/asyncapi.json")).json()
    assert document["asyncapi"].startswith("3.")
    addresses = {c["address"] for c in document["channels"].values()}
    assert addresses, "no channels documented"
    for message in document["components"]["messages"].values():
        ref = message["payload"]["$ref"].rsplit("/", 1)[-1]
        assert "properties" in document["components"]["schemas"][ref]
