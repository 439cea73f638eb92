"""SIGKILL of sync in the middle of a batch of changes: every hook runs, records land once."""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter
from pathlib import Path

from litestar import Litestar, Request, post

from contracts.ids import new_id
from tests.harness import serving
from tests.sync.conftest import canonical_of, put_snapshot
from tests.sync.hook_changes import after_hook_install, change, commit
from tests.sync.test_reliability import start_sync

RECORDING = """
from sdk import http, ingest

async def after_save(ctx, record, previous):
    ingest.canonical("deal_note", {"text": "seen", "deal": ctx.entity_id}, idempotency_key="note")
    await http.post("https://recorder.example.com/ran", json={"change": ctx.change_id})
"""
CHANGES = 40


async def test_after_save_runs_at_least_once_and_writes_once_across_a_sigkill(
    infra, redis, producer, tmp_path: Path
):
    ws = new_id("ws")
    snap = await after_hook_install(redis, tmp_path, RECORDING, ws, http=["recorder.example.com"])
    ran: Counter[str] = Counter()
    killed = asyncio.Event()
    first: asyncio.subprocess.Process | None = None

    @post("/ran", status_code=200)
    async def record_run(request: Request) -> dict[str, bool]:
        ran[(await request.json())["change"]] += 1
        if sum(ran.values()) == CHANGES // 4 and first is not None and first.returncode is None:
            os.kill(first.pid, signal.SIGKILL)  # a quarter through the batch
            killed.set()
        return {"ok": True}

    changes = [change(ws, after={"name": f"deal {i}"}) for i in range(CHANGES)]
    async with serving(Litestar([record_run])) as recorder:
        env = {
            "SYNC_GROUP_ID": new_id("sync-hooks"),
            "SYNC_AFTER_HOOKS_GROUP_ID": new_id("after-hooks"),
            "SYNC_DEDUPE_PENDING_S": "5",
            "SYNC_HOST_OVERRIDES": f"recorder.example.com={recorder}",
        }
        await put_snapshot(producer, snap)
        await commit(producer, changes)
        first, _ = await start_sync(infra, env)
        second = None
        try:
            await asyncio.wait_for(killed.wait(), 120)
            await first.wait()
            second, _ = await start_sync(infra, env)
            records = await canonical_of(
                infra.bootstrap_servers, snap.installation_id, lambda r: len(r) >= CHANGES, 120
            )
            for _ in range(600):  # every change's hook reported its run
                if len(ran) == CHANGES:
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(1)  # anything published twice would show up by now
            records = await canonical_of(
                infra.bootstrap_servers, snap.installation_id, lambda r: len(r) >= CHANGES
            )
        finally:
            for process in (first, second):
                if process is not None and process.returncode is None:
                    process.kill()
                    await asyncio.wait_for(process.wait(), 10)
    assert set(ran) == {c.change_id for c in changes}  # each hook ran at least once
    assert max(ran.values()) >= 2  # the batch in flight at the kill ran again after it
    keys = [r.idempotency_key for r in records]
    assert len(keys) == len(set(keys)) == CHANGES
    assert set(keys) == {f"{c.change_id}/guard/note" for c in changes}
