"""Dedupe as a service other than ingress uses it, against the session's real Valkey."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from contracts.ids import new_id
from services.base.dedupe import DedupeStore, Deduplicator
from services.base.errors import DependencyUnavailable
from services.ingress.store import IngressStore
from tests.harness import Infra


@pytest_asyncio.fixture
async def redis(infra: Infra) -> AsyncIterator[Redis]:
    client = Redis.from_url(infra.redis_url)
    yield client
    await client.aclose()


async def never_written(installation_id: str, idempotency_key: str, since_ms: int) -> bool:
    return False


def deduplicator(store: DedupeStore, wait_s: float = 0.2) -> Deduplicator:
    return Deduplicator(store, ttl_s=3_600, pending_s=5.0, wait_s=wait_s, verify=never_written)


class TestSharedKeySpace:
    async def test_a_key_ingress_confirmed_is_a_duplicate_for_another_caller(
        self, redis: Redis
    ) -> None:
        ingress = deduplicator(IngressStore(redis, history_limit=10, history_ttl_s=600))
        sync = deduplicator(DedupeStore(redis))
        installation_id = new_id("ins")
        key = sync.store.dedupe_key(installation_id, "stripe:customer:cus_1")

        by_webhook = await ingress.claim([key], "dlv_1")
        await ingress.confirm(by_webhook)
        by_poll = await sync.claim([key], "page_1")

        assert by_webhook.mine == [key]
        assert by_poll.mine == [] and by_poll.duplicates == [key]

    async def test_keys_are_hash_tagged_per_installation(self) -> None:
        key = DedupeStore.dedupe_key("ins_1", "a:b")

        assert key == "{i:ins_1}:dedupe:a:b"
        assert DedupeStore.parse_dedupe_key(key) == ("ins_1", "a:b")


class TestClaimStates:
    async def test_a_released_claim_can_be_claimed_again(self, redis: Redis) -> None:
        dedupe = deduplicator(DedupeStore(redis))
        key = dedupe.store.dedupe_key(new_id("ins"), "k")

        first = await dedupe.claim([key], "page_1")
        await dedupe.release(first)
        second = await dedupe.claim([key], "page_2")

        assert second.mine == [key]

    async def test_a_key_pending_elsewhere_is_waited_for_then_refused(self, redis: Redis) -> None:
        dedupe = deduplicator(DedupeStore(redis), wait_s=0.05)
        key = dedupe.store.dedupe_key(new_id("ins"), "k")
        await dedupe.claim([key], "page_1")

        with pytest.raises(DependencyUnavailable) as refused:
            await dedupe.claim([key], "page_2")

        assert refused.value.dependency == "dedupe_pending"


class TestClaimantGone:
    """A claimant that died mid-publish leaves its claim: the next one checks the topic."""

    @staticmethod
    def after_a_crash(store: DedupeStore, written: bool, asked: list[tuple[str, str, int]]):
        async def verify(installation_id: str, idempotency_key: str, since_ms: int) -> bool:
            asked.append((installation_id, idempotency_key, since_ms))
            return written

        return Deduplicator(store, ttl_s=3_600, pending_s=0.2, wait_s=0.5, verify=verify)

    async def test_a_record_acked_before_its_claimant_died_is_not_published_again(
        self, redis: Redis
    ) -> None:
        asked: list[tuple[str, str, int]] = []
        dying = self.after_a_crash(DedupeStore(redis), written=True, asked=asked)
        installation_id = new_id("ins")
        key = dying.store.dedupe_key(installation_id, "stripe:event:evt_1:0")
        claimed_at_ms = time.time() * 1000
        await dying.claim([key], "dlv_killed")  # published, acked, then SIGKILL: no confirm

        await asyncio.sleep(0.8)  # past wait_s + pending_s: its claimant is gone
        retry = await self.after_a_crash(DedupeStore(redis), written=True, asked=asked).claim(
            [key], "dlv_retry"
        )

        assert (retry.mine, retry.duplicates) == ([], [key])
        assert await redis.get(key) == b"d"
        [(inst, idempotency_key, since_ms)] = asked
        assert (inst, idempotency_key) == (installation_id, "stripe:event:evt_1:0")
        assert claimed_at_ms - 2_000 < since_ms <= claimed_at_ms

    async def test_a_record_never_written_by_a_dead_claimant_is_claimed_by_the_retry(
        self, redis: Redis
    ) -> None:
        asked: list[tuple[str, str, int]] = []
        dying = self.after_a_crash(DedupeStore(redis), written=False, asked=asked)
        key = dying.store.dedupe_key(new_id("ins"), "k")
        await dying.claim([key], "page_killed")

        await asyncio.sleep(0.8)
        retry = await dying.claim([key], "page_retry")

        assert (retry.mine, retry.duplicates) == ([key], [])
        assert len(asked) == 1
        await dying.release(retry)  # compare-and-delete: it holds the retry's value now
        assert await redis.get(key) is None  # the retry's own claim, released

    async def test_a_young_claim_is_waited_for_not_verified(self, redis: Redis) -> None:
        asked: list[tuple[str, str, int]] = []
        store = DedupeStore(redis)
        alive = Deduplicator(store, ttl_s=3_600, pending_s=30, wait_s=0.05, verify=never_written)
        key = store.dedupe_key(new_id("ins"), "k")
        await alive.claim([key], "page_1")

        with pytest.raises(DependencyUnavailable):
            await self.after_a_crash(store, written=False, asked=asked).claim([key], "page_2")
        assert asked == []  # 30 s pending: still its claimant's

    async def test_the_same_caller_retrying_takes_its_own_claim_back(self, redis: Redis) -> None:
        dedupe = deduplicator(DedupeStore(redis))
        key = dedupe.store.dedupe_key(new_id("ins"), "k")
        await dedupe.claim([key], "dlv_1")

        again = await dedupe.claim([key], "dlv_1")
        taken = list(again.mine)
        await dedupe.release(again)

        assert taken == [key]
        assert await redis.get(key) is None  # released: the claim now holds the retry's value

    async def test_the_same_caller_retrying_after_its_claim_went_stale_looks_on_the_topic(
        self, redis: Redis
    ) -> None:
        """A held delivery drained again with its own id after a crash: acked before it died."""
        asked: list[tuple[str, str, int]] = []
        dedupe = self.after_a_crash(DedupeStore(redis), written=True, asked=asked)
        key = dedupe.store.dedupe_key(new_id("ins"), "k")
        await dedupe.claim([key], "dlv_held")

        await asyncio.sleep(0.8)  # past wait_s + pending_s: the claim is stale
        again = await dedupe.claim([key], "dlv_held")

        assert (again.mine, again.duplicates) == ([], [key])
        assert len(asked) == 1

    async def test_another_process_with_the_same_token_does_not_take_a_young_claim(
        self, redis: Redis
    ) -> None:
        """After a SIGKILL, the next sync process runs the same change's after-hook with the
        same token while the dead one's claim is young: it must wait (the record may have been
        acknowledged), not take the claim as its own retry and publish the record again."""
        asked: list[tuple[str, str, int]] = []
        store = DedupeStore(redis)
        key = store.dedupe_key(new_id("ins"), "chg_1/guard/note")
        dead = Deduplicator(store, ttl_s=3_600, pending_s=30, wait_s=0.05, verify=never_written)
        await dead.claim([key], "chg_1:guard")  # published, acked, then SIGKILL: no confirm

        restarted = self.after_a_crash(store, written=True, asked=asked)
        with pytest.raises(DependencyUnavailable) as held:
            await restarted.claim([key], "chg_1:guard")

        assert held.value.dependency == "dedupe_pending"  # the batch is held, retried later
        assert asked == [] and (await redis.get(key) or b"").startswith(b"p:")
