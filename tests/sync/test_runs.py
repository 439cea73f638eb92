"""A run: pages until has_more is false, records exactly once on the canonical topic, cursor."""

from __future__ import annotations

import json

from contracts.ids import new_id
from contracts.topics import EXTENSION_LOGS
from services.base.dedupe import DedupeStore
from services.sync.app import create_app
from tests.connectors.conftest import CONNECTORS
from tests.harness import eventually, read_topic, serving
from tests.runtime.factories import deploy_directory, installation
from tests.sync.conftest import canonical_of, put_snapshot, sync_settings, token_for
from tests.sync.providers import PagedProvider


async def stripe_install(redis, keyring, provider: PagedProvider):
    version = await deploy_directory(redis, CONNECTORS / "stripe")
    return installation(version, keyring=keyring, secrets={"api_key": provider.key})


async def streams_of(http, sync: str, installation_id: str, headers) -> dict[str, dict]:
    response = await http.get(f"{sync}/v1/installations/{installation_id}/streams", headers=headers)
    if response.status_code != 200:
        return {}
    return {s["stream"]: s for s in response.json()["streams"]}


async def customers_when(http, sync: str, snap, headers, check, timeout: float = 60) -> dict:
    """The `customers` status from the API once `check(status)` holds."""

    async def found():
        status = (await streams_of(http, sync, snap.installation_id, headers)).get("customers", {})
        return status if status and check(status) else None

    return await eventually(found, timeout=timeout)


async def test_activated_stripe_installation_backfills_every_customer_exactly_once(
    infra, http, redis, keyring, producer
):
    provider = PagedProvider(key=new_id("sk_test"), customers=250)
    snap = await stripe_install(redis, keyring, provider)
    headers = await token_for(redis, snap.workspace_id, role="member")
    async with serving(provider.app()) as url:
        async with serving(create_app(sync_settings(url), infra.settings())) as sync:
            await put_snapshot(producer, snap)
            records = await canonical_of(
                infra.bootstrap_servers, snap.installation_id, lambda r: len(r) >= 250
            )

            async def customers_ok():
                streams = await streams_of(http, sync, snap.installation_id, headers)
                found = streams.get("customers")
                return streams if found and found["state"] == "ok" else None

            streams = await eventually(customers_ok)
    keys = [r.idempotency_key for r in records]
    assert len(keys) == len(set(keys)) == 250
    assert {r.source for r in records} == {"stream"}
    customers = streams["customers"]
    assert customers["records_total"] == 250
    assert customers["pages_last_run"] == 3
    assert json.loads(customers["cursor"]) == {"since": 1_700_000_249}
    assert customers["next_run_at"] > customers["last_run_at"]
    assert set(streams) == {
        "customers",
        "charges",
        "invoices",
        "subscriptions",
        "payment_intents",
        "refunds",
    }


async def test_failed_page_logs_a_job_error_and_backs_off_without_moving_the_cursor(
    infra, http, redis, keyring, producer
):
    provider = PagedProvider(key=new_id("sk_test"), customers=10)
    snap = await stripe_install(redis, keyring, provider)
    provider.key = "sk_rotated_elsewhere"  # every call now answers 401: the page fails
    headers = await token_for(redis, snap.workspace_id)
    async with serving(provider.app()) as url:
        async with serving(create_app(sync_settings(url), infra.settings())) as sync:
            await put_snapshot(producer, snap)

            async def backing_off():
                streams = await streams_of(http, sync, snap.installation_id, headers)
                found = streams.get("customers")
                return found if found and found["state"] == "backing_off" else None

            customers = await eventually(backing_off)
    assert customers["cursor"] is None
    assert customers["consecutive_failures"] >= 2
    assert "401" in customers["last_error"]
    lines = await read_topic(
        infra.bootstrap_servers,
        EXTENSION_LOGS,
        lambda seen: any(
            line.installation_id == snap.installation_id and line.kind == "platform"
            for line in seen
        ),
    )
    failure = next(
        line
        for line in lines
        if line.installation_id == snap.installation_id and line.kind == "platform"
    )
    assert (failure.script_type, failure.level) == ("job", "error")
    assert failure.attrs["stream"] in {
        "customers",
        "charges",
        "invoices",
        "subscriptions",
        "payment_intents",
        "refunds",
    }


async def test_webhook_gap_counts_polled_records_the_webhook_path_never_delivered(
    infra, http, redis, keyring, producer
):
    provider = PagedProvider(key=new_id("sk_test"), customers=30)
    snap = await stripe_install(redis, keyring, provider)
    headers = await token_for(redis, snap.workspace_id)
    base = f"/v1/installations/{snap.installation_id}/streams/customers"
    # The webhook path delivered customer 31 (same record key): it is not a gap.
    delivered = DedupeStore.dedupe_key(snap.installation_id, "stripe:customer:cus_00031:1700000031")
    await redis.set(delivered, "d", ex=60)
    async with serving(provider.app()) as url:
        settings = sync_settings(url, webhook_gap_window_s=1.0)
        async with serving(create_app(settings, infra.settings())) as sync:
            await put_snapshot(producer, snap)

            async def swept(runs: int):
                found = (await streams_of(http, sync, snap.installation_id, headers)).get(
                    "customers"
                )
                history = await http.get(f"{sync}{base}/cursors", headers=headers)
                done = [e for e in history.json().get("entries", []) if e["action"] == "run"]
                ok = found and found["state"] == "ok" and len(done) >= runs
                return found if ok else None

            first = await eventually(lambda: swept(1))
            provider.customers = 40  # ten more upstream, all older than the gap window
            await http.post(f"{sync}{base}/run", headers=headers)
            # The run's cursor entry can be read before its status (statuses are coalesced).
            second = await eventually(lambda: swept(2), lambda s: s and s["records_total"] == 39)
    assert first["webhook_gap"] == 0  # the initial backfill finds every record new by design
    assert second["webhook_gap"] == 9
    assert second["records_total"] == 39


async def test_a_run_longer_than_its_lease_keeps_it_renewed_to_the_last_page(
    infra, http, redis, keyring, producer
):
    # Five slow pages (≈ 4 s) against a lease of 1.5 s: only renewal keeps the run going.
    provider = PagedProvider(key=new_id("sk_test"), customers=500, delay_s=0.8)
    snap = await stripe_install(redis, keyring, provider)
    headers = await token_for(redis, snap.workspace_id)
    async with serving(provider.app()) as url:
        settings = sync_settings(url, lease_ttl_s=1.5)
        async with serving(create_app(settings, infra.settings())) as sync:
            await put_snapshot(producer, snap)

            swept = lambda s: s["records_total"] == 500  # noqa: E731
            customers = await customers_when(http, sync, snap, headers, swept)
    assert customers["state"] == "ok"
    assert customers["pages_last_run"] == 5  # one run read every page
    assert len(provider.served) == 5  # no customers page read twice after a lost lease
