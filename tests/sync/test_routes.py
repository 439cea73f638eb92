"""The sync API: status, cursor history, restore, reset, run now; admin-only, audited, isolated."""

from __future__ import annotations

import json

from contracts.ids import new_id
from contracts.topics import AUDIT_EVENTS
from services.sync.app import create_app
from tests.harness import eventually, read_topic, serving
from tests.sync.conftest import canonical_of, put_snapshot, sync_settings, token_for
from tests.sync.providers import PagedProvider
from tests.sync.test_runs import streams_of, stripe_install


async def wait_customers_ok(http, sync, snap, headers, runs: int = 1):
    async def done():
        found = (await streams_of(http, sync, snap.installation_id, headers)).get("customers")
        if found and found["state"] == "ok" and found["records_total"] >= 0:
            history = await http.get(
                f"{sync}/v1/installations/{snap.installation_id}/streams/customers/cursors",
                headers=headers,
            )
            runs_seen = [e for e in history.json()["entries"] if e["action"] == "run"]
            return history.json() if len(runs_seen) >= runs else None
        return None

    return await eventually(done)


async def test_restoring_an_old_cursor_rereads_pages_without_a_second_record(
    infra, http, redis, keyring, producer
):
    provider = PagedProvider(key=new_id("sk_test"), customers=150)
    snap = await stripe_install(redis, keyring, provider)
    admin = await token_for(redis, snap.workspace_id)
    base = f"/v1/installations/{snap.installation_id}/streams/customers"
    async with serving(provider.app()) as url:
        async with serving(create_app(sync_settings(url), infra.settings())) as sync:
            await put_snapshot(producer, snap)
            first = await wait_customers_ok(http, sync, snap, admin)
            provider.customers = 180  # 30 new customers since the first sweep
            run = await http.post(f"{sync}{base}/run", headers=admin)
            history = await wait_customers_ok(http, sync, snap, admin, runs=2)
            oldest = history["entries"][-1]
            restored = await http.post(
                f"{sync}{base}/cursors/{oldest['entry_id']}/restore", headers=admin
            )
            served_before = len(provider.served)
            await http.post(f"{sync}{base}/run", headers=admin)
            await eventually(lambda: len(provider.served) > served_before)
            after = await wait_customers_ok(http, sync, snap, admin, runs=3)
            records = await canonical_of(
                infra.bootstrap_servers, snap.installation_id, lambda r: len(r) >= 180
            )
    assert run.status_code == 202
    assert restored.status_code == 200
    assert restored.json()["cursor"] == oldest["cursor"]
    assert json.loads(first["current"]) == {"since": 1_700_000_149}
    assert [e["action"] for e in after["entries"][:2]] == ["run", "restore"]
    assert after["entries"][0]["records"] == 0  # the re-read pages were all duplicates
    keys = [r.idempotency_key for r in records]
    assert len(keys) == len(set(keys)) == 180


async def test_reset_drops_the_cursor_and_is_audited(infra, http, redis, keyring, producer):
    provider = PagedProvider(key=new_id("sk_test"), customers=30)
    snap = await stripe_install(redis, keyring, provider)
    admin = await token_for(redis, snap.workspace_id)
    base = f"/v1/installations/{snap.installation_id}/streams/customers"
    async with serving(provider.app()) as url:
        async with serving(create_app(sync_settings(url), infra.settings())) as sync:
            await put_snapshot(producer, snap)
            await wait_customers_ok(http, sync, snap, admin)
            reset = await http.post(f"{sync}{base}/reset", headers=admin)
            history = await http.get(f"{sync}{base}/cursors", headers=admin)
    assert reset.status_code == 200
    assert reset.json()["cursor"] is None
    assert history.json()["current"] is None
    assert history.json()["entries"][0]["action"] == "reset"
    events = await read_topic(
        infra.bootstrap_servers,
        AUDIT_EVENTS,
        lambda seen: any(e.target == snap.installation_id for e in seen),
    )
    mine = [e for e in events if e.target == snap.installation_id]
    assert [(e.action, e.details["stream"]) for e in mine] == [("StreamCursorReset", "customers")]


async def test_members_read_but_cannot_write_and_other_workspaces_see_nothing(
    infra, http, redis, keyring, producer
):
    provider = PagedProvider(key=new_id("sk_test"), customers=5)
    snap = await stripe_install(redis, keyring, provider)
    member = await token_for(redis, snap.workspace_id, role="member")
    stranger = await token_for(redis, new_id("ws"))
    base = f"/v1/installations/{snap.installation_id}/streams"
    async with serving(provider.app()) as url:
        async with serving(create_app(sync_settings(url), infra.settings())) as sync:
            await put_snapshot(producer, snap)
            await wait_customers_ok(http, sync, snap, member)
            read = await http.get(f"{sync}{base}", headers=member)
            write = await http.post(f"{sync}{base}/customers/reset", headers=member)
            foreign = await http.get(f"{sync}{base}", headers=stranger)
            foreign_run = await http.post(f"{sync}{base}/customers/run", headers=stranger)
            unknown = await http.get(f"{sync}{base}/nope/cursors", headers=member)
            anonymous = await http.get(f"{sync}{base}")
    assert read.status_code == 200
    assert write.status_code == 403
    assert (foreign.status_code, foreign_run.status_code) == (404, 404)
    assert unknown.status_code == 404
    assert unknown.json()["error"]["field"] == "stream"
    assert anonymous.status_code == 401
