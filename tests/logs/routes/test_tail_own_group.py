"""With several replicas (`LOGS_TAIL_OWN_GROUP`), the tails read the topic in their own group."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio

from contracts.topics import EXTENSION_LOGS
from tests.harness import eventually
from tests.logs.factories import log_line, new_workspace, publish_all, running_logs
from tests.logs.routes.test_logs import read_events


@pytest_asyncio.fixture(scope="module")
async def logs_url(infra, http) -> AsyncIterator[str]:
    async with running_logs(infra, http, tail_own_group=True) as url:
        yield url


async def test_the_tail_delivers_from_its_own_consumer_group(infra, http, logs_url):
    workspace_id, admin = await new_workspace(infra)
    events: list[dict[str, Any]] = []
    url = f"{logs_url}/v1/installations/inst_own/logs/stream"
    async with http.stream("GET", url, headers=admin, params={"q": "wanted"}) as response:
        reader = asyncio.create_task(read_events(response, 1, events))
        await eventually(lambda: asyncio.sleep(0, events), bool, timeout=10)
        await publish_all(
            infra,
            EXTENSION_LOGS,
            [
                log_line(workspace_id=workspace_id, installation_id="inst_own", message="skip"),
                log_line(workspace_id=workspace_id, installation_id="inst_own", message="WANTED"),
            ],
        )
        await asyncio.wait_for(reader, 20)
    lines = [json.loads(e["data"]) for e in events if e.get("event") == "line"]
    assert [line["message"] for line in lines] == ["WANTED"]

    async def stored() -> list[Any]:
        page = await http.get(f"{logs_url}/v1/installations/inst_own/logs", headers=admin)
        return page.json()["items"]

    assert len(await eventually(stored, lambda items: len(items) == 2)) == 2
