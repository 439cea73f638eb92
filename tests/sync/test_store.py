"""Run leases and fenced cursor commits against the real Valkey."""

from __future__ import annotations

import asyncio

from contracts.ids import new_id
from services.sync.schemas import CursorEntry
from services.sync.store import SyncStore


def entry(run_id: str, cursor: str | None) -> CursorEntry:
    return CursorEntry(entry_id=new_id("cur"), action="run", run_id=run_id, at=0.0, cursor=cursor)


async def commit(store: SyncStore, *args: object) -> bool:
    """The cursor commit sent on its own (runs send it with the page's dedupe confirm)."""
    pipe = store.redis.pipeline(transaction=False)
    store.commit(*args)(pipe)  # type: ignore[arg-type]
    return bool((await pipe.execute())[0])


async def test_a_replica_whose_lease_expired_cannot_move_the_cursor(redis):
    store = SyncStore(redis, history_limit=10)
    installation = new_id("ins")
    frozen = await store.acquire(installation, "stream:customers", ttl_s=0.2)
    await asyncio.sleep(0.3)  # the holder was frozen past its lease
    taker = await store.acquire(installation, "stream:customers", ttl_s=5)
    assert frozen is not None and taker is not None and int(taker) > int(frozen)
    assert await commit(
        store, installation, "stream:customers", taker, "page-2", entry("r2", "page-2")
    )
    assert not await commit(
        store, installation, "stream:customers", frozen, "page-1", entry("r1", "page-1")
    )
    assert await store.cursor(installation, "stream:customers") == "page-2"
    assert not await store.renew(installation, "stream:customers", frozen, ttl_s=5)


async def test_a_held_lease_cannot_be_taken_twice(redis):
    store = SyncStore(redis, history_limit=10)
    installation = new_id("ins")
    tokens = await asyncio.gather(
        *(store.acquire(installation, "stream:customers", ttl_s=5) for _ in range(10))
    )
    assert len([t for t in tokens if t is not None]) == 1


async def test_an_admin_reset_fences_off_the_run_in_flight(redis):
    store = SyncStore(redis, history_limit=10)
    installation = new_id("ins")
    token = await store.acquire(installation, "stream:customers", ttl_s=5)
    assert token is not None
    reset = CursorEntry(entry_id=new_id("cur"), action="reset", at=0.0)
    await store.set_cursor(installation, "stream:customers", None, reset)
    assert not await commit(
        store, installation, "stream:customers", token, "page-9", entry("r1", "page-9")
    )
    assert await store.cursor(installation, "stream:customers") is None


async def test_history_keeps_one_entry_per_run_newest_first_and_is_capped(redis):
    store = SyncStore(redis, history_limit=3)
    installation = new_id("ins")
    for run in range(5):
        token = await store.acquire(installation, "stream:c", ttl_s=5)
        assert token is not None
        for page in range(3):
            cursor = f"{run}-{page}"
            assert await commit(
                store, installation, "stream:c", token, cursor, entry(f"r{run}", cursor)
            )
        await store.release(installation, "stream:c", token)
    history = await store.history(installation, "stream:c")
    assert [(e.run_id, e.cursor) for e in history] == [("r4", "4-2"), ("r3", "3-2"), ("r2", "2-2")]
