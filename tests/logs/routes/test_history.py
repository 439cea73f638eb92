"""A new logs service (a new consumer group) stores what was logged before it started."""

from __future__ import annotations

import time

from contracts.topics import EXTENSION_LOGS
from tests.harness import eventually
from tests.logs.factories import log_line, new_workspace, publish_all, running_logs


async def test_a_new_logs_service_stores_the_lines_logged_before_it_started(infra, http):
    workspace_id, admin = await new_workspace(infra)
    now = time.time()
    lines = [log_line(workspace_id=workspace_id, message=f"early{i}", at=now + i) for i in range(3)]
    await publish_all(infra, EXTENSION_LOGS, lines)
    async with running_logs(infra, http, history=True) as url:

        async def messages() -> list[str]:
            response = await http.get(f"{url}/v1/extensions/helpdesk/logs", headers=admin)
            return [item["message"] for item in response.json()["items"]]

        stored = await eventually(messages, lambda m: len(m) == 3, timeout=120)
    assert stored == ["early2", "early1", "early0"]
