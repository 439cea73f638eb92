"""Scheduling: what is polled and what is not, manners toward providers, observation versions."""

from __future__ import annotations

import asyncio
import itertools
import json

from contracts.ids import new_id
from contracts.topics import OBSERVED_RECORDS
from services.sync.app import create_app
from tests.connectors.conftest import CONNECTORS
from tests.harness import eventually, read_topic, serving
from tests.runtime.factories import deploy_directory
from tests.sync.conftest import canonical_of, put_snapshot, revised, sync_settings, token_for
from tests.sync.providers import PagedProvider
from tests.sync.test_runs import streams_of, stripe_install


async def test_disabled_installation_makes_no_provider_request_and_enable_resumes_its_cursor(
    infra, http, redis, keyring, producer
):
    provider = PagedProvider(key=new_id("sk_test"), customers=40)
    active = await stripe_install(redis, keyring, provider)
    disabled = revised(active, state="disabled")
    headers = await token_for(redis, active.workspace_id)
    async with serving(provider.app()) as url:
        settings = sync_settings(url)
        async with serving(create_app(settings, infra.settings())) as sync:
            await put_snapshot(producer, disabled)

            async def shown_disabled():
                streams = await streams_of(http, sync, active.installation_id, headers)
                return streams if streams.get("customers", {}).get("state") == "disabled" else None

            streams = await eventually(shown_disabled)
            await asyncio.sleep(2)  # several scheduler ticks: still nothing may be fetched
            requests_while_disabled = provider.requests
            enabled = revised(disabled, state="active")
            await put_snapshot(producer, enabled)
            await canonical_of(
                infra.bootstrap_servers, active.installation_id, lambda r: len(r) >= 40
            )

            async def ok():
                found = (await streams_of(http, sync, active.installation_id, headers))["customers"]
                return found if found["state"] == "ok" else None

            customers = await eventually(ok)
    assert requests_while_disabled == 0
    assert all(s["next_run_at"] is None for s in streams.values())
    assert json.loads(customers["cursor"]) == {"since": 1_700_000_039}


async def test_uninstall_drops_cursors_and_status(infra, http, redis, keyring, producer):
    provider = PagedProvider(key=new_id("sk_test"), customers=10)
    snap = await stripe_install(redis, keyring, provider)
    headers = await token_for(redis, snap.workspace_id)
    async with serving(provider.app()) as url:
        async with serving(create_app(sync_settings(url), infra.settings())) as sync:
            await put_snapshot(producer, snap)
            await canonical_of(
                infra.bootstrap_servers, snap.installation_id, lambda r: len(r) >= 10
            )
            await eventually(
                lambda: _state(http, sync, snap.installation_id, headers, "customers", "ok")
            )
            await put_snapshot(producer, revised(snap, state="uninstalled"))

            async def gone():
                response = await http.get(
                    f"{sync}/v1/installations/{snap.installation_id}/streams", headers=headers
                )
                return response.status_code == 404

            await eventually(gone)
    assert await redis.exists(f"{{i:{snap.installation_id}}}:sync:cursors") == 0


async def test_uninstall_while_a_run_is_mid_page_leaves_no_cursor_or_status_behind(
    infra, http, redis, keyring, producer
):
    provider = PagedProvider(key=new_id("sk_test"), customers=400)
    snap = await stripe_install(redis, keyring, provider)
    headers = await token_for(redis, snap.workspace_id)

    async def uninstall_on_second_page(served: int) -> None:
        if served == 2:  # the page is still being answered when the uninstall is read
            await put_snapshot(producer, revised(snap, state="uninstalled"))
            await asyncio.sleep(1.0)

    provider.on_page = uninstall_on_second_page
    async with serving(provider.app()) as url:
        async with serving(create_app(sync_settings(url), infra.settings())) as sync:
            await put_snapshot(producer, snap)

            async def gone():
                response = await http.get(
                    f"{sync}/v1/installations/{snap.installation_id}/streams", headers=headers
                )
                return response.status_code == 404

            await eventually(gone)
            await asyncio.sleep(2.0)  # a run that outlived the drop would have written by now
            still_gone = await gone()
    assert still_gone
    assert await redis.exists(f"{{i:{snap.installation_id}}}:sync:cursors") == 0
    assert len(provider.served) < 4  # the run stopped at a page boundary


async def _state(http, sync, installation_id, headers, stream, state):
    found = (await streams_of(http, sync, installation_id, headers)).get(stream)
    return found is not None and found["state"] == state


async def test_rate_limited_provider_is_retried_after_its_retry_after(
    infra, http, redis, keyring, producer
):
    provider = PagedProvider(key=new_id("sk_test"), customers=20, rate_limited=6, retry_after_s=1)
    snap = await stripe_install(redis, keyring, provider)
    async with serving(provider.app()) as url:
        async with serving(create_app(sync_settings(url), infra.settings())) as sync:
            await put_snapshot(producer, snap)
            records = await canonical_of(
                infra.bootstrap_servers, snap.installation_id, lambda r: len(r) >= 20
            )
            assert sync
    assert len({r.idempotency_key for r in records}) == 20
    # Per stream (one path each), the request after a 429 came Retry-After (1 s) later.
    assert len(provider.limited_at) == 6
    for kind in {k for k, _, status in provider.calls if status == 429}:
        calls = [(at, status) for k, at, status in provider.calls if k == kind]
        for (at, status), (next_at, _) in itertools.pairwise(calls):
            if status == 429:
                assert next_at - at >= 0.95


async def test_observation_version_polls_with_its_own_cursor_into_observed_records_only(
    infra, http, redis, keyring, producer
):
    provider = PagedProvider(key=new_id("sk_test"), customers=15)
    snap = await stripe_install(redis, keyring, provider)
    candidate = await deploy_directory(redis, CONNECTORS / "stripe")
    observed = revised(snap, observation=candidate)
    headers = await token_for(redis, snap.workspace_id)
    async with serving(provider.app()) as url:
        async with serving(create_app(sync_settings(url), infra.settings())) as sync:
            await put_snapshot(producer, observed)
            canonical = await canonical_of(
                infra.bootstrap_servers, snap.installation_id, lambda r: len(r) >= 15
            )
            seen = await read_topic(
                infra.bootstrap_servers,
                OBSERVED_RECORDS,
                lambda all_: (
                    len([r for r in all_ if r.installation_id == snap.installation_id]) >= 15
                ),
                timeout=60,
            )

            async def both_ok():
                response = await http.get(
                    f"{sync}/v1/installations/{snap.installation_id}/streams", headers=headers
                )
                rows = [s for s in response.json()["streams"] if s["stream"] == "customers"]
                return rows if len(rows) == 2 and all(r["state"] == "ok" for r in rows) else None

            rows = await eventually(both_ok)
    mine = [r for r in seen if r.installation_id == snap.installation_id]
    assert {r.mode for r in mine} == {"observe"}
    assert len(canonical) == 15  # the observation's records never reach the canonical topic
    assert {r["mode"] for r in rows} == {"active", "observe"}
    assert all(r["cursor"] for r in rows)
