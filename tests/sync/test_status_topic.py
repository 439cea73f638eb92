"""What sync publishes on sync.stream-status.v1: each stream's latest status, coalesced.

The topic is compacted by installation and stream; Redis and the API see every change at
once. On the topic a short run publishes only its end, a stream publishes at most once per
`status_every_s`, and the latest status always arrives.
"""

from __future__ import annotations

import itertools

import msgspec

from contracts.ids import new_id
from contracts.topics import STREAM_STATUS
from services.base.kafka import publish
from services.sync.app import create_app
from tests.harness import read_topic, serving
from tests.sync.conftest import put_snapshot, revised, sync_settings, token_for
from tests.sync.providers import PagedProvider
from tests.sync.test_runs import customers_when, stripe_install


async def customers_ok(http, sync: str, snap, headers) -> dict:
    """The `customers` status from the API once it is `ok`."""
    return await customers_when(http, sync, snap, headers, lambda s: s["state"] == "ok")


def of_stream(records, installation_id: str, stream: str):
    key = f"{installation_id}:{stream}".encode()
    return [r for r in records if r.key == key]


async def test_a_short_run_publishes_only_its_end(infra, http, redis, keyring, producer):
    provider = PagedProvider(key=new_id("sk_test"), customers=10)  # one page
    snap = await stripe_install(redis, keyring, provider)
    headers = await token_for(redis, snap.workspace_id)
    async with serving(provider.app()) as url:
        # A run shorter than the gathering window (generous here) travels as one message.
        settings = sync_settings(url, status_gather_s=10.0)
        async with serving(create_app(settings, infra.settings())) as sync:
            await put_snapshot(producer, snap)

            shown = await customers_ok(http, sync, snap, headers)
            records = await read_topic(
                infra.bootstrap_servers,
                STREAM_STATUS,
                raw=True,
                until=lambda rs: any(
                    STREAM_STATUS.decode(r.value).state == "ok"
                    for r in of_stream(rs, snap.installation_id, "customers")
                ),
            )
    # Read up to the run's end: a `running` status would have come before it (same key).
    states = [
        STREAM_STATUS.decode(r.value) for r in of_stream(records, snap.installation_id, "customers")
    ]
    assert "running" not in [s.state for s in states]
    final = states[-1]
    assert final.state == "ok" and final.records_last_run == 10
    assert final.last_run_at == shown["last_run_at"]
    assert final.cursor == shown["cursor"]


async def test_a_stream_publishes_at_most_once_per_interval_and_its_latest_status_last(
    infra, http, redis, keyring, producer
):
    provider = PagedProvider(key=new_id("sk_test"), customers=500)  # five pages of 100
    snap = await stripe_install(redis, keyring, provider)
    headers = await token_for(redis, snap.workspace_id)
    async with serving(provider.app()) as url:
        # One page per run: a run per page, each moving the status three times.
        settings = sync_settings(url, max_pages_per_run=1, status_every_s=1.0)
        async with serving(create_app(settings, infra.settings())) as sync:
            await put_snapshot(producer, snap)

            def swept(s: dict) -> bool:
                done = s.get("state") == "ok" and s["records_total"] == 500
                return done and s["next_run_at"] > s["last_run_at"] + 1

            shown = await customers_when(http, sync, snap, headers, swept)
            records = await read_topic(
                infra.bootstrap_servers,
                STREAM_STATUS,
                raw=True,
                until=lambda rs: any(
                    STREAM_STATUS.decode(r.value).records_total == 500
                    and STREAM_STATUS.decode(r.value).state == "ok"
                    for r in of_stream(rs, snap.installation_id, "customers")
                ),
            )
    mine = of_stream(records, snap.installation_id, "customers")
    apart = [(b.timestamp - a.timestamp) / 1000 for a, b in itertools.pairwise(mine)]
    assert len(mine) >= 2, mine
    assert min(apart) >= 0.95, apart  # broker timestamps are the producer's, in ms
    last = STREAM_STATUS.decode(mine[-1].value)
    assert (last.state, last.records_total, last.cursor) == ("ok", 500, shown["cursor"])


async def test_uninstall_tombstones_follow_every_status(infra, http, redis, keyring, producer):
    provider = PagedProvider(key=new_id("sk_test"), customers=10)
    snap = await stripe_install(redis, keyring, provider)
    headers = await token_for(redis, snap.workspace_id)
    async with serving(provider.app()) as url:
        # Statuses wait long before going out: the uninstall comes while they wait.
        settings = sync_settings(url, status_every_s=30.0, status_gather_s=30.0)
        async with serving(create_app(settings, infra.settings())) as sync:
            await put_snapshot(producer, snap)

            await customers_ok(http, sync, snap, headers)
            await put_snapshot(producer, revised(snap, state="uninstalled"))
            records = await read_topic(
                infra.bootstrap_servers,
                STREAM_STATUS,
                raw=True,
                until=lambda rs: any(
                    r.value is None for r in of_stream(rs, snap.installation_id, "customers")
                ),
            )
    mine_before = [
        r for r in of_stream(records, snap.installation_id, "customers") if r.value is not None
    ]
    # The service stopped (it sent what it had): a marker on the same key, then read up to it.
    marker = msgspec.structs.replace(
        STREAM_STATUS.decode(mine_before[-1].value), state="idle", last_error=new_id("marker")
    )
    await publish(producer, STREAM_STATUS, marker)
    after = await read_topic(
        infra.bootstrap_servers,
        STREAM_STATUS,
        raw=True,
        until=lambda rs: any(r.value == STREAM_STATUS.encode(marker) for r in rs),
    )
    after = after[: [r.value for r in after].index(STREAM_STATUS.encode(marker))]
    mine = of_stream(after, snap.installation_id, "customers")
    assert mine[-1].value is None, [r.value for r in mine]
