"""`backfill streams`, `sync`, `cursor history|restore` against the sync routes of docs/http-api.md.

The sync service's stream API is being built on its own branch; until it lands, a local HTTP
server answering that route map stands in for it (as the deploy tests' recording registry
does), so these tests check what the CLI sends and how it prints what comes back.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from litestar import Litestar, Request, get, post
from litestar.params import FromPath

from tests.cli.conftest import run, run_json
from tests.harness import serving

NOW = time.time()
STATUS = [
    {
        "stream": "customers",
        "state": "ok",
        "kind": "stream",
        "cursor": "cus_100",
        "last_run_at": NOW - 60,
        "last_success_at": NOW - 60,
        "records_last_run": 100,
        "records_total": 1200,
        "error_count": 0,
        "consecutive_failures": 0,
        "next_run_at": NOW + 240,
        "webhook_gap": 3,
    },
    {
        "stream": "charges",
        "state": "backing_off",
        "kind": "stream",
        "cursor": None,
        "last_run_at": NOW - 30,
        "records_last_run": 0,
        "records_total": 0,
        "error_count": 4,
        "consecutive_failures": 2,
        "last_error": "provider answered 503",
        "next_run_at": NOW + 60,
    },
]
HISTORY = [
    {
        "entry_id": "cur_2",
        "at": NOW - 60,
        "run_id": "run_2",
        "pages": 1,
        "records": 100,
        "cursor": "cus_100",
    },
    {
        "entry_id": "cur_1",
        "at": NOW - 360,
        "run_id": "run_1",
        "pages": 11,
        "records": 1100,
        "cursor": "cus_0",
    },
]


def sync_stand_in(calls: list[tuple[str, str, str | None]]) -> Litestar:
    base = "/v1/installations/{installation_id:str}/streams"

    @get(base)
    async def list_streams(
        request: Request, installation_id: FromPath[str]
    ) -> list[dict[str, Any]]:
        calls.append(("GET", request.url.path, request.headers.get("authorization")))
        return STATUS

    @post(base + "/{stream:str}/run", status_code=202)
    async def run_stream(
        request: Request, installation_id: FromPath[str], stream: FromPath[str]
    ) -> dict[str, Any]:
        calls.append(("POST", request.url.path, request.headers.get("authorization")))
        return {"stream": stream, "run_id": f"run_{stream}"}

    @post(base + "/{stream:str}/reset", status_code=200)
    async def reset_stream(
        request: Request, installation_id: FromPath[str], stream: FromPath[str]
    ) -> dict[str, Any]:
        calls.append(("POST", request.url.path, request.headers.get("authorization")))
        return {"stream": stream, "cursor": None}

    @get(base + "/{stream:str}/cursors")
    async def cursors(
        request: Request, installation_id: FromPath[str], stream: FromPath[str]
    ) -> list[dict[str, Any]]:
        calls.append(("GET", request.url.path, request.headers.get("authorization")))
        return HISTORY

    @post(base + "/{stream:str}/cursors/{entry_id:str}/restore", status_code=200)
    async def restore(
        request: Request,
        installation_id: FromPath[str],
        stream: FromPath[str],
        entry_id: FromPath[str],
    ) -> dict[str, Any]:
        calls.append(("POST", request.url.path, request.headers.get("authorization")))
        return {"stream": stream, "cursor": "cus_0", "restored_from": entry_id}

    return Litestar([list_streams, run_stream, reset_stream, cursors, restore])


def env_for(sync: str, tmp_path: Path) -> dict[str, str]:
    return {
        "BACKFILL_SYNC_URL": sync,
        "BACKFILL_TOKEN": "bft_t",
        "XDG_CONFIG_HOME": str(tmp_path),
        "COLUMNS": "200",
    }


async def test_streams_prints_a_status_table_and_json(infra, tmp_path: Path):
    calls: list[tuple[str, str, str | None]] = []
    async with serving(sync_stand_in(calls)) as sync:
        env = env_for(sync, tmp_path)
        code, out, err = await run("streams", "inst_1", env=env)
        rows = await run_json("streams", "inst_1", env=env)
    assert code == 0, err
    assert "customers" in out and "backing_off" in out and "100/1200" in out
    assert "provider answered 503" in err
    assert [r["stream"] for r in rows] == ["customers", "charges"]
    assert calls[0] == ("GET", "/v1/installations/inst_1/streams", "Bearer bft_t")


async def test_sync_full_resets_then_runs_each_stream_after_confirmation(infra, tmp_path: Path):
    calls: list[tuple[str, str, str | None]] = []
    async with serving(sync_stand_in(calls)) as sync:
        env = env_for(sync, tmp_path)
        code, _, _ = await run("sync", "inst_1", "--full", env=env, stdin=b"n\n")
        assert code == 6 and [c for c in calls if c[0] == "POST"] == []
        result = await run_json("sync", "inst_1", "--stream", "charges", "--full", "--yes", env=env)
        plain = await run_json("sync", "inst_1", env=env)
    assert result == {"charges": {"stream": "charges", "run_id": "run_charges"}}
    assert set(plain) == {"customers", "charges"}
    posts = [c[1] for c in calls if c[0] == "POST"]
    assert posts[:2] == [
        "/v1/installations/inst_1/streams/charges/reset",
        "/v1/installations/inst_1/streams/charges/run",
    ]
    assert posts[2:] == [
        "/v1/installations/inst_1/streams/customers/run",
        "/v1/installations/inst_1/streams/charges/run",
    ]


async def test_cursor_history_and_restore(infra, tmp_path: Path):
    calls: list[tuple[str, str, str | None]] = []
    async with serving(sync_stand_in(calls)) as sync:
        env = env_for(sync, tmp_path)
        history = await run_json("cursor", "history", "inst_1", "customers", env=env)
        code, out, _ = await run("cursor", "history", "inst_1", "customers", env=env)
        restored = await run_json(
            "cursor", "restore", "inst_1", "customers", "cur_1", "--yes", env=env
        )
    assert [e["entry_id"] for e in history] == ["cur_2", "cur_1"]
    assert code == 0 and "cus_100" in out and "run_1" in out
    assert restored["restored_from"] == "cur_1"
    assert calls[-1][1] == "/v1/installations/inst_1/streams/customers/cursors/cur_1/restore"


async def test_sync_service_down_exits_unreachable_with_a_hint(infra, tmp_path: Path):
    code, _, err = await run("streams", "inst_1", env=env_for("http://127.0.0.1:9", tmp_path))
    assert code == 5 and "BACKFILL_SYNC_URL" in err
