"""Sync's per-page dedupe store shares keys and states with every other dedupe caller."""

from __future__ import annotations

from contracts.ids import new_id
from services.base.dedupe import DedupeStore, Deduplicator
from services.base.dedupe.page import PageDedupeStore


async def never_written(installation_id: str, key: str, since_ms: int) -> bool:
    return False


def dedupe(store: DedupeStore) -> Deduplicator:
    return Deduplicator(store, ttl_s=60, pending_s=5, wait_s=0.2, verify=never_written)


async def test_a_record_the_webhook_path_delivered_is_a_duplicate_for_a_poll(redis):
    webhook, poll = dedupe(DedupeStore(redis)), dedupe(PageDedupeStore(redis))
    installation = new_id("ins")
    delivered = DedupeStore.dedupe_key(installation, "stripe:customer:cus_1:1")
    missed = DedupeStore.dedupe_key(installation, "stripe:customer:cus_2:2")
    claims = await webhook.claim([delivered], token="dlv_1")
    await webhook.confirm(claims)
    polled = await poll.claim([delivered, missed], token="run_1")
    await poll.confirm(polled)
    again = await webhook.claim([missed], token="dlv_2")
    assert (polled.mine, polled.duplicates) == ([missed], [delivered])
    assert (again.mine, again.duplicates) == ([], [missed])


async def test_a_key_pending_under_another_publisher_is_not_claimed(redis):
    first, second = dedupe(PageDedupeStore(redis)), dedupe(PageDedupeStore(redis))
    key = DedupeStore.dedupe_key(new_id("ins"), "k")
    held = await first.claim([key], token="run_a")
    claimed_first = list(held.mine)
    released_after_failure = None
    try:
        await second.claim([key], token="run_b")
    except Exception as error:  # DependencyUnavailable: the page fails and is read again
        released_after_failure = type(error).__name__
    await first.release(held)
    retried = await second.claim([key], token="run_b")
    assert claimed_first == [key]
    assert released_after_failure == "DependencyUnavailable"
    assert retried.mine == [key]
