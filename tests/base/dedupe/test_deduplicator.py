"""Dedupe as a service other than ingress uses it, against the session's real Valkey."""

from __future__ import annotations

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
