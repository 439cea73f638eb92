"""`backfill logs` and `promote` against the rebuilt logs API's shapes (branch `logs`).

The logs service that answers these routes is being rebuilt on its own branch (paged
`{"items", "next_cursor"}` answers, an SSE tail with `ready`/`line`/`dropped` events, the
observation report); until it lands here a local HTTP server answering that route map stands
in for it, so these tests check the CLI's side of the contract.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from litestar import Litestar, Request, get, post
from litestar.params import FromPath
from litestar.response import ServerSentEvent

from tests.cli.conftest import ROOT, clean_environment, run, run_json
from tests.harness import serving


def line(message: str, level: str = "info", kind: str = "log", **extra: Any) -> dict[str, Any]:
    return {
        "log_id": f"log_{message}", "at": time.time(), "level": level, "message": message,
        "kind": kind, "workspace_id": "ws_1", "installation_id": "inst_1",
        "extension_key": "notes", "version_id": "ver_1", "invocation_id": "inv_1",
        "script_type": "route", "script_name": "inbound", "mode": "active", **extra,
    }  # fmt: skip


def logs_stand_in(seen: list[dict[str, str]]) -> Litestar:
    @get("/v1/extensions/{key:str}/logs")
    async def page(request: Request, key: FromPath[str]) -> dict[str, Any]:
        seen.append(dict(request.query_params))
        return {"items": [line("second", "warn"), line("first")], "next_cursor": None}

    @get("/v1/extensions/{key:str}/logs/stream")
    async def tail(request: Request, key: FromPath[str]) -> ServerSentEvent:
        seen.append(dict(request.query_params))

        async def events() -> AsyncIterator[dict[str, str]]:
            yield {"event": "ready", "data": "{}"}
            yield {"event": "line", "data": json.dumps(line("live one", kind="denial"))}
            while True:
                await asyncio.sleep(0.5)
                yield {"event": "line", "data": json.dumps(line("live more"))}

        return ServerSentEvent(events())

    @get("/v1/installations")
    async def installations() -> list[dict[str, Any]]:
        return [{"id": "inst_1", "extension_key": "notes", "observation": {"version_id": "ver_2"}}]

    @get("/v1/installations/{iid:str}/observation-report")
    async def report(iid: FromPath[str]) -> dict[str, Any]:
        return {
            "installation_id": iid, "active_version_id": "ver_1", "candidate_version_id": "ver_2",
            "since": 0, "compared_active": 10, "compared_candidate": 9, "only_active": ["k9"],
            "only_candidate": [], "differences": [
                {"idempotency_key": "k1", "canonical_type": "note", "path": "text", "active": "a", "candidate": "[b]"}
            ],
            "keys_with_differences": 1, "identical": 8,
            "counts": [{"canonical_type": "note", "active": 10, "candidate": 9}],
            "candidate_errors": 0, "candidate_denials": 2, "candidate_problems": [],
        }  # fmt: skip

    @post("/v1/extensions/{key:str}/promote", status_code=200)
    async def promote(key: FromPath[str]) -> dict[str, Any]:
        return {"version_id": "ver_2", "state": ["active"]}

    return Litestar([page, tail, installations, report, promote])


def env_for(url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "BACKFILL_LOGS_URL": url, "BACKFILL_REGISTRY_URL": url, "BACKFILL_TOKEN": "bft_t",
        "XDG_CONFIG_HOME": str(tmp_path), "COLUMNS": "200",
    }  # fmt: skip


async def test_logs_reads_a_page_oldest_first_and_sends_every_filter(infra, tmp_path: Path):
    seen: list[dict[str, str]] = []
    async with serving(logs_stand_in(seen)) as url:
        lines = await run_json(
            "logs", "notes", "--installation", "inst_1", "--level", "info", "--script-type",
            "route", "--since", "1h", "--grep", "S*", env=env_for(url, tmp_path),
        )  # fmt: skip
    assert [entry["message"] for entry in lines] == ["first", "second"]
    query = seen[0]
    assert query["installation_id"] == "inst_1" and query["level"] == "info"
    assert query["script_type"] == "route" and query["q"] == "S*"
    assert time.time() - 3700 < float(query["since"]) < time.time() - 3500


async def test_follow_reads_the_sse_tail_line_events_only(infra, tmp_path: Path):
    async with serving(logs_stand_in([])) as url:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "cli.main", "logs", "notes", "--follow", "--json",
            cwd=ROOT, env={**clean_environment(), **env_for(url, tmp_path)},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert process.stdout is not None
        first = json.loads(await asyncio.wait_for(process.stdout.readline(), 30))
        second = json.loads(await asyncio.wait_for(process.stdout.readline(), 30))
        process.terminate()
        await process.wait()
    assert (first["message"], first["kind"]) == ("live one", "denial")
    assert second["message"] == "live more"


async def test_promote_shows_the_observation_report_before_asking(infra, tmp_path: Path):
    async with serving(logs_stand_in([])) as url:
        code, _, err = await run("promote", "notes", env=env_for(url, tmp_path), stdin=b"n\n")
        assert code == 6
        assert "ver_1 (active) vs ver_2" in err and "8 identical" in err
        assert "only active: 1" in err and "denials: 2" in err and "'[b]'" in err
        done = await run_json("promote", "notes", "--yes", env=env_for(url, tmp_path))
    assert done["promoted"]["version_id"] == "ver_2"
    assert done["observation_reports"]["inst_1"]["identical"] == 8
