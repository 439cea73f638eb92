"""Sync under failure: SIGKILL mid-run, a frozen broker, a rebalance between two replicas.

Each test is bounded in count and time, talks to 127.0.0.1 only, and resumes what it paused.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Iterator

import pytest
from redis.asyncio import Redis

from cli.embedded import free_port
from contracts.ids import new_id
from services.base.kafka import create_producer
from services.base.secrets_crypto import Keyring
from services.sync.app import create_app
from tests.harness import Infra, embedded_infra, eventually, serving, wait_ready
from tests.sync.conftest import canonical_of, put_snapshot, sync_settings
from tests.sync.providers import PagedProvider
from tests.sync.test_runs import stripe_install

CURSOR = "stream:customers"


async def cursor_of(redis: Redis, installation_id: str) -> dict | None:
    raw = await redis.hget(f"{{i:{installation_id}}}:sync:cursors", CURSOR)
    return json.loads(raw) if raw else None


def page_boundaries(provider: PagedProvider) -> list[dict]:
    """The cursor the Stripe connector commits after each full page of the first sweep."""
    objects = provider.objects()
    top = objects[0]["created"]
    return [
        {"since": None, "after": objects[i - 1]["id"], "top": top}
        for i in range(100, len(objects), 100)
    ]


async def start_sync(infra: Infra, env: dict[str, str]) -> tuple[asyncio.subprocess.Process, str]:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.sync",
        env={**infra.env(), **env, "SYNC_PORT": str(port), "LOG_LEVEL": "WARNING"},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    return process, f"http://127.0.0.1:{port}"


async def test_sync_killed_mid_run_publishes_every_record_once_and_resumes_at_a_page_boundary(
    infra, redis, keyring, producer
):
    provider = PagedProvider(key=new_id("sk_test"), customers=600, delay_s=0.05)
    snap = await stripe_install(redis, keyring, provider)
    env = {
        "SYNC_GROUP_ID": new_id("sync-kill"),
        "SYNC_LEASE_TTL_S": "4",
        "SYNC_DEDUPE_PENDING_S": "5",
    }
    killed = asyncio.Event()
    first: asyncio.subprocess.Process | None = None

    async def kill_on_fourth_page(served: int) -> None:
        if served == 4 and first is not None and first.returncode is None:
            os.kill(first.pid, signal.SIGKILL)  # while it waits for page 4
            killed.set()

    provider.on_page = kill_on_fourth_page
    async with serving(provider.app()) as url:
        env["SYNC_HOST_OVERRIDES"] = f"api.stripe.com={url}"
        first, _ = await start_sync(infra, env)
        second = None
        try:
            await put_snapshot(producer, snap)
            await asyncio.wait_for(killed.wait(), 90)
            await first.wait()
            cursor_after_kill = await cursor_of(redis, snap.installation_id)
            second, _ = await start_sync(infra, env)
            records = await canonical_of(
                infra.bootstrap_servers, snap.installation_id, lambda r: len(r) >= 600, timeout=120
            )
            final = await eventually(lambda: _cursor_done(redis, snap.installation_id), timeout=60)
            await asyncio.sleep(1)  # anything published twice would show up by now
            records = await canonical_of(
                infra.bootstrap_servers, snap.installation_id, lambda r: len(r) >= 600
            )
        finally:
            for process in (first, second):
                if process is not None and process.returncode is None:
                    process.kill()
                    await asyncio.wait_for(process.wait(), 10)
    keys = [r.idempotency_key for r in records]
    assert len(keys) == len(set(keys)) == 600
    assert cursor_after_kill == page_boundaries(provider)[2]  # three pages committed, not four
    assert final == {"since": 1_700_000_599}


async def _cursor_done(redis: Redis, installation_id: str) -> dict | None:
    cursor = await cursor_of(redis, installation_id)
    return cursor if cursor and cursor.get("since") else None


@pytest.fixture(scope="module")
def private_infra() -> Iterator[Infra]:
    """This module's own broker and Valkey (one test freezes the broker)."""
    with embedded_infra() as started:
        yield started


async def test_frozen_broker_mid_run_keeps_the_cursor_and_the_run_resumes_later(
    private_infra, http
):
    if private_infra.broker is None:
        pytest.skip("needs the embedded broker to pause")
    redis = Redis.from_url(private_infra.redis_url)
    producer = create_producer(private_infra.settings(), "sync-frozen-test")
    await producer.start()
    provider = PagedProvider(key=new_id("sk_test"), customers=400)
    paused = asyncio.Event()

    async def freeze_on_third_page(served: int) -> None:
        if served == 3 and not paused.is_set():
            private_infra.broker.pause()
            paused.set()

    provider.on_page = freeze_on_third_page
    try:
        snap = await stripe_install(redis, Keyring.parse(private_infra.keyring), provider)
        async with serving(provider.app()) as url:
            settings = sync_settings(url, publish_timeout_s=2.0, backoff_base_s=1.0)
            app = create_app(settings, private_infra.settings())
            async with serving(app) as sync:
                await wait_ready(http, sync, timeout=60)
                await put_snapshot(producer, snap)
                await asyncio.wait_for(paused.wait(), 60)
                try:
                    await asyncio.sleep(6)  # page 3's publish times out; backoff; no commit
                    frozen_cursor = await cursor_of(redis, snap.installation_id)
                finally:
                    private_infra.broker.resume()
                records = await canonical_of(
                    private_infra.bootstrap_servers,
                    snap.installation_id,
                    lambda r: len(r) >= 400,
                    timeout=90,
                )
                final = await eventually(
                    lambda: _cursor_done(redis, snap.installation_id), timeout=90
                )
    finally:
        await producer.stop()
        await redis.aclose()
    assert frozen_cursor == page_boundaries(provider)[1]  # two pages committed, not three
    assert len({r.idempotency_key for r in records}) == 400
    assert final == {"since": 1_700_000_399}


async def test_two_replicas_with_a_rebalance_never_fetch_a_page_twice_at_once(
    infra, http, redis, keyring, producer
):
    provider = PagedProvider(key=new_id("sk_test"), customers=3000, delay_s=0.3)
    snap = await stripe_install(redis, keyring, provider)
    group = new_id("sync-pair")
    joined = asyncio.Event()

    async def on_page(served: int) -> None:
        if served == 3:
            joined.set()

    provider.on_page = on_page
    async with serving(provider.app()) as url:
        settings = sync_settings(url, group_id=group, max_pages_per_run=3)
        async with serving(create_app(settings, infra.settings())) as first:
            await wait_ready(http, first, timeout=60)
            await put_snapshot(producer, snap)
            await asyncio.wait_for(joined.wait(), 60)
            async with serving(create_app(settings, infra.settings())) as second:
                await wait_ready(http, second, timeout=90)
                pages_at_rebalance = len(provider.served)
                records = await canonical_of(
                    infra.bootstrap_servers,
                    snap.installation_id,
                    lambda r: len(r) >= 3000,
                    timeout=120,
                )
    keys = [r.idempotency_key for r in records]
    assert len(keys) == len(set(keys)) == 3000
    assert pages_at_rebalance < 30  # the group rebalanced while the stream was being read
    assert provider.max_in_flight == 1
    assert provider.concurrent_same_page == 0
