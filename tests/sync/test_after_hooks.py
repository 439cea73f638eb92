"""after_save hooks on entities.changes.v1: run, publish once, fail only in Logs."""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec

from contracts.ids import new_id
from contracts.topics import DEAD_LETTERS, ENTITY_CHANGES, EXTENSION_LOGS, OBSERVED_RECORDS
from services.sync.app import create_app
from tests.harness import read_topic, serving
from tests.ingress.hook_factories import hook_extension
from tests.runtime.factories import deploy_directory
from tests.sync.conftest import canonical_of, put_snapshot, sync_settings
from tests.sync.hook_changes import NOTE, after_hook_install, change, commit

ENRICH = """
from sdk import ingest

def after_save(ctx, record, previous):
    ingest.canonical("deal_note", {"text": record["name"] + " saved", "deal": ctx.entity_id},
                     idempotency_key="note")
    if record.get("bad"):
        ingest.canonical("deal_note", {"deal": ctx.entity_id}, idempotency_key="bad")
"""
DENIED = """
from sdk import secrets

def after_save(ctx, record, previous):
    secrets.get("undeclared")
"""
FAILING = """
def after_save(ctx, record, previous):
    raise RuntimeError("enrichment service down")
"""


async def test_after_save_publishes_its_records_and_field_checks_refuse_a_bad_one(
    infra, http, redis, producer, tmp_path: Path
):
    ws = new_id("ws")
    snap = await after_hook_install(redis, tmp_path, ENRICH, ws)
    settings = sync_settings(after_hook_backoff_s=0.1)
    async with serving(create_app(settings, infra.settings())) as url:
        document = (await http.get(f"{url}/asyncapi.json")).json()
        await put_snapshot(producer, snap)
        good, bad = change(ws, after={"name": "Acme"}), change(ws, after={"name": "Bolt", "bad": 1})
        await commit(producer, [good, bad])
        records = await canonical_of(
            infra.bootstrap_servers, snap.installation_id, lambda r: len(r) >= 2
        )
        lines = await read_topic(
            infra.bootstrap_servers,
            EXTENSION_LOGS,
            lambda seen: any(
                line.kind == "denial" and line.installation_id == snap.installation_id
                for line in seen
            ),
            from_start=True,
        )
    channel = next(
        c for c in document["channels"].values() if c["address"] == "entities.changes.v1"
    )
    assert channel["messages"], "the core's topic is documented for its other team"
    assert "EntityChange" in document["components"]["schemas"]
    assert sorted(r.idempotency_key for r in records) == sorted(
        [f"{good.change_id}/guard/note", f"{bad.change_id}/guard/note"]
    )
    assert {r.source for r in records} == {"hook"} and {r.canonical_type for r in records} == {
        "deal_note"
    }
    [denial] = [
        line
        for line in lines
        if line.kind == "denial" and line.installation_id == snap.installation_id
    ]
    assert "'text' is required" in denial.message and denial.entity == "deal_note"
    assert (denial.script_type, denial.event) == ("hook", "after_save")


async def test_a_failing_after_hook_is_retried_then_only_logged_a_denied_one_not_retried(
    infra, redis, producer, tmp_path: Path
):
    ws = new_id("ws")
    failing = await after_hook_install(redis, tmp_path, FAILING, ws)
    denied = await after_hook_install(redis, tmp_path, DENIED, ws)
    fine = await after_hook_install(redis, tmp_path, ENRICH, ws)
    settings = sync_settings(after_hook_backoff_s=0.1, after_hook_attempts=3)
    async with serving(create_app(settings, infra.settings())):
        for snap in (failing, denied, fine):
            await put_snapshot(producer, snap)
        committed = change(ws)
        await commit(producer, [committed])
        given_up = {failing.installation_id, denied.installation_id}
        lines = await read_topic(
            infra.bootstrap_servers,
            EXTENSION_LOGS,
            lambda seen: (
                {line.installation_id for line in seen if "gave up" in line.message} >= given_up
            ),
            from_start=True,
        )
        records = await canonical_of(
            infra.bootstrap_servers, fine.installation_id, lambda r: len(r) >= 1
        )
    mine = [line for line in lines if line.installation_id == failing.installation_id]
    crashes = [
        line for line in mine if "enrichment service down" in line.message and line.kind == "error"
    ]
    assert len(crashes) == 3  # every attempt's error is in Logs
    [gave_up] = [line for line in mine if "gave up" in line.message]
    assert (gave_up.script_type, gave_up.entity, gave_up.event) == ("hook", "deal", "after_save")
    assert gave_up.attrs["change_id"] == committed.change_id
    assert [r.idempotency_key for r in records] == [f"{committed.change_id}/guard/note"]
    refused = [line for line in lines if line.installation_id == denied.installation_id]
    assert len([line for line in refused if line.kind == "denial"]) == 1  # ran once
    [final] = [line for line in refused if "gave up" in line.message]
    assert "denied, not retried" in final.message


async def test_an_invalid_change_is_parked_and_a_redis_outage_holds_the_batch(
    infra, redis, producer, tmp_path: Path
):
    ws, entity_id = new_id("ws"), new_id("deal")
    snap = await after_hook_install(redis, tmp_path, ENRICH, ws)
    settings = sync_settings(after_hook_backoff_s=0.1)
    key = f"{ws}:{entity_id}".encode()  # one partition: parked letters keep the topic's order
    first, second = change(ws, entity_id=entity_id), change(ws, entity_id=entity_id)
    async with serving(create_app(settings, infra.settings())):
        await put_snapshot(producer, snap)
        await (await producer.send(ENTITY_CHANGES.name, b"not a change", key=key))
        await commit(producer, [first])
        await canonical_of(infra.bootstrap_servers, snap.installation_id, lambda r: len(r) >= 1)
        infra.valkey.pause()  # longer than the Redis client's socket timeout
        try:
            await commit(producer, [second])
            await asyncio.sleep(8)
        finally:
            infra.valkey.resume()
        await (await producer.send(ENTITY_CHANGES.name, b"{}", key=key))
        records = await canonical_of(
            infra.bootstrap_servers, snap.installation_id, lambda r: len(r) >= 2
        )
        group = settings.after_hooks_group_id
        letters = await read_topic(
            infra.bootstrap_servers,
            DEAD_LETTERS,
            lambda seen: any(m.consumer_group == group and m.value == b"{}" for m in seen),
            from_start=True,
        )
    assert [m.value for m in letters if m.consumer_group == group] == [b"not a change", b"{}"]
    assert sorted(r.idempotency_key for r in records) == sorted(
        [f"{first.change_id}/guard/note", f"{second.change_id}/guard/note"]
    )


async def test_a_draft_after_hook_runs_only_on_its_dev_sessions_changes(
    infra, redis, producer, tmp_path: Path
):
    ws, entity_id, session = new_id("ws"), new_id("deal"), "e" * 32
    snap = await after_hook_install(redis, tmp_path / "active", ENRICH, ws)
    draft_dir = hook_extension(
        tmp_path / "draft",
        ENRICH + "# the draft\n",
        key=snap.extension_key,
        events=("after_save",),
        access="read",
        entities=[NOTE],
    )
    draft = await deploy_directory(redis, draft_dir)
    snap = msgspec.structs.replace(
        snap, draft=draft, draft_member_id="mem_dev", draft_session_id=session
    )
    others = change(ws, entity_id=entity_id)  # no session: the draft never sees it
    own = msgspec.structs.replace(change(ws, entity_id=entity_id), session_id=session)
    async with serving(create_app(sync_settings(), infra.settings())):
        await put_snapshot(producer, snap)
        await commit(producer, [others, own])
        observed = await read_topic(
            infra.bootstrap_servers,
            OBSERVED_RECORDS,
            lambda seen: any(r.source_id == own.change_id for r in seen),
            from_start=True,
        )
        records = await canonical_of(
            infra.bootstrap_servers, snap.installation_id, lambda r: len(r) >= 2
        )
    mine = [r for r in observed if r.installation_id == snap.installation_id]
    assert [(r.source_id, r.mode, r.version_id) for r in mine] == [
        (own.change_id, "draft", draft.version_id)
    ]
    assert {r.source_id for r in records} == {others.change_id, own.change_id}  # active: both
