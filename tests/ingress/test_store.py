"""Ingress' Redis state against the session's real Valkey."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from contracts.ids import new_id
from services.ingress.schemas import DeliverySummary
from services.ingress.store import IngressStore


def summary(installation_id: str, delivery_id: str, received_at: float) -> DeliverySummary:
    return DeliverySummary(
        delivery_id=delivery_id,
        installation_id=installation_id,
        received_at=received_at,
        status=202,
        outcome="accepted",
    )


async def claimed_by_dlv_0(redis: Redis, event_id: str) -> tuple[IngressStore, str, list[str]]:
    """A store, a fresh installation and one dedupe key claimed (pending) by `dlv_0`."""
    store = IngressStore(redis, history_limit=10, history_ttl_s=600)
    installation_id = new_id("ins")
    keys = [store.dedupe_key(installation_id, f"stripe:event:{event_id}:0")]
    await store.claim(keys, "dlv_0", 5_000)
    return store, installation_id, keys


class TestConfirm:
    async def test_confirm_marks_claims_done_and_keeps_the_newest_deliveries(
        self, redis: Redis
    ) -> None:
        store = IngressStore(redis, history_limit=3, history_ttl_s=600)
        installation_id = new_id("ins")
        keys = [store.dedupe_key(installation_id, f"stripe:event:{i}:0") for i in range(2)]
        await store.claim(keys, "dlv_0", 5_000)

        await store.confirm(
            keys, 3_600, store.recording(summary(installation_id, "dlv_0", 1_000.0))
        )
        for i in range(1, 5):
            await store.confirm(
                [], 3_600, store.recording(summary(installation_id, f"dlv_{i}", 1_000.0 + i))
            )

        assert await store.peek(keys) == [b"d", b"d"]
        assert 3_000 < await redis.ttl(keys[0]) <= 3_600
        history = await store.history(installation_id, limit=10)
        assert [d.delivery_id for d in history] == ["dlv_4", "dlv_3", "dlv_2"]
        assert await store.delivery(installation_id, "dlv_3") == summary(
            installation_id, "dlv_3", 1_003.0
        )

    async def test_deferred_confirm_lands_on_its_own_when_nothing_else_is_sent(
        self, redis: Redis
    ) -> None:
        store, installation_id, keys = await claimed_by_dlv_0(redis, "alone")

        await store.confirm(
            keys, 3_600, store.recording(summary(installation_id, "dlv_0", 1_000.0)), defer=True
        )

        assert await store.peek(keys) == [b"d"]
        assert [d.delivery_id for d in await store.history(installation_id, limit=10)] == ["dlv_0"]

    async def test_confirm_after_the_answer_starts_no_task_and_rides_with_the_next_claim(
        self, redis: Redis
    ) -> None:
        store, installation_id, done = await claimed_by_dlv_0(redis, "later")
        tasks = asyncio.all_tasks()

        confirmed = store.confirm_later(
            done, 3_600, store.recording(summary(installation_id, "dlv_0", 1_000.0))
        )
        claimed = store.claim(done, "dlv_1", 5_000)  # queued after it, in the same pipeline

        assert asyncio.all_tasks() == tasks  # nothing runs on its behalf until a flush
        assert await claimed == [b"d"]
        assert not any(isinstance(r, Exception) for r in await confirmed)
        assert [d.delivery_id for d in await store.history(installation_id, limit=10)] == ["dlv_0"]

    async def test_deferred_confirm_rides_with_concurrent_claims_and_is_applied_first(
        self, redis: Redis
    ) -> None:
        store, installation_id, done = await claimed_by_dlv_0(redis, "done")
        fresh = [store.dedupe_key(installation_id, f"stripe:event:new{i}:0") for i in range(3)]

        _history_written, again, *claimed = await asyncio.gather(
            store.confirm(
                done, 3_600, store.recording(summary(installation_id, "dlv_0", 1_000.0)), defer=True
            ),
            store.claim(done, "dlv_1", 5_000),
            *(store.claim([key], f"dlv_{i + 2}", 5_000) for i, key in enumerate(fresh)),
        )

        assert again == [b"d"]  # queued after the confirm: a duplicate, not a second claim
        assert claimed == [[None], [None], [None]]
        assert await store.peek(fresh) == [b"dlv_2", b"dlv_3", b"dlv_4"]
