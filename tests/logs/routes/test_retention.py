"""Retention by count: a workspace keeps its newest `max_lines`, the rest is deleted."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest_asyncio

from contracts.topics import EXTENSION_LOGS
from tests.harness import eventually
from tests.logs.factories import log_line, new_workspace, publish_all, running_logs


@pytest_asyncio.fixture(scope="module")
async def logs_url(infra, http) -> AsyncIterator[str]:
    async with running_logs(
        infra, http, max_lines_per_workspace=5, retention_interval_s=0.2
    ) as url:
        yield url


async def test_a_workspace_over_its_line_limit_keeps_its_newest_lines(infra, http, logs_url):
    workspace_id, admin = await new_workspace(infra)
    other_id, other = await new_workspace(infra)
    now = time.time()
    await publish_all(
        infra,
        EXTENSION_LOGS,
        [log_line(workspace_id=workspace_id, message=f"n{i}", at=now - 100 + i) for i in range(8)],
    )
    await publish_all(
        infra,
        EXTENSION_LOGS,
        [log_line(workspace_id=other_id, message=f"o{i}", at=now - 100 + i) for i in range(3)],
    )

    async def messages(headers: dict[str, str]) -> list[str]:
        response = await http.get(f"{logs_url}/v1/extensions/helpdesk/logs", headers=headers)
        return [item["message"] for item in response.json()["items"]]

    kept = await eventually(lambda: messages(admin), lambda m: m == ["n7", "n6", "n5", "n4", "n3"])
    assert kept == ["n7", "n6", "n5", "n4", "n3"]
    assert await eventually(lambda: messages(other), lambda m: len(m) == 3) == ["o2", "o1", "o0"]
