"""After-connect work: once the producer reaches Kafka, before the subscribers start, each once."""

from __future__ import annotations

import uuid

from contracts.topics import AUDIT_EVENTS
from services.base.infrastructure import Infrastructure
from tests.harness import eventually


async def test_after_connect_work_runs_before_the_subscribers_start_and_each_step_once(infra):
    service = Infrastructure.create(infra.settings(), "after-connect-probe")

    async def ignore(batch: list[object]) -> None:
        return None

    # A consumer group: FastStream's start returns only once it is joined (seconds on the
    # embedded broker). Work that waited for it (sync's snapshot follower joining its own
    # group) made the two joins sequential.
    service.consumers.subscribe_batch(f"probe-{uuid.uuid4().hex[:8]}", {AUDIT_EVENTS: ignore})
    calls: list[str] = []
    subscribers_started: list[bool] = []

    async def first() -> None:
        calls.append("first")
        subscribers_started.append(service.broker_started)

    async def second() -> None:
        calls.append("second")
        if calls.count("second") == 1:
            raise RuntimeError("a step that fails once")

    service.after_connect += [first, second]
    await service.start()
    try:
        await eventually(lambda: service.broker_started, timeout=60)
    finally:
        await service.stop()
    # The failed step was retried on its own; the one before it did not run again.
    assert calls == ["first", "second", "second"]
    assert subscribers_started == [False]
