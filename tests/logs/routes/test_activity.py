"""`GET /v1/activity`: bucketed webhook answers by status class and error lines, per
installation, only the caller's workspace."""

from __future__ import annotations

import time
import uuid

from contracts.topics import EXTENSION_LOGS, WEBHOOK_HEALTH
from tests.harness import eventually
from tests.logs.factories import log_line, new_workspace, publish_all
from tests.logs.routes.test_installations import window


async def test_activity_buckets_deliveries_by_status_and_errors_per_hour(infra, http, logs_url):
    workspace_id, admin = await new_workspace(infra)
    _, stranger = await new_workspace(infra)
    inst = f"ins_{uuid.uuid4().hex[:8]}"
    hour = 3600
    now = time.time()
    this_hour = now - now % hour
    await publish_all(
        infra,
        WEBHOOK_HEALTH,
        [
            window(
                workspace_id,
                inst,
                window_start=this_hour - hour + 5,
                window_end=this_hour - hour + 65,
                deliveries=5,
                status_2xx=4,
                status_5xx=1,
            ),
            window(
                workspace_id,
                inst,
                window_start=this_hour + 1,
                window_end=this_hour + 2,
                deliveries=3,
                status_2xx=2,
                status_4xx=1,
            ),
        ],
    )
    await publish_all(
        infra,
        EXTENSION_LOGS,
        [
            log_line(workspace_id=workspace_id, installation_id=inst, level=level, at=this_hour + n)
            for n, level in ((1, "error"), (2, "error"), (3, "info"))
        ],
    )
    # The info line, published last on the workspace's partition, is stored last: once the
    # three lines read back, both errors count (a point count alone could hold one error).
    lines = f"{logs_url}/v1/extensions/helpdesk/logs?installation_id={inst}&since={this_hour - 1}"
    await eventually(
        lambda: http.get(lines, headers=admin), lambda r: len(r.json()["items"]) == 3, timeout=120
    )
    url = f"{logs_url}/v1/activity?installation_id={inst}&hours=3"

    def complete(response) -> bool:
        points = response.json()["points"]
        return len(points) == 5

    answer = (await eventually(lambda: http.get(url, headers=admin), complete, timeout=120)).json()
    assert answer["bucket_s"] == 3600
    seen = {(p["at"], p["kind"], p["series"]): p["count"] for p in answer["points"]}
    assert seen == {
        (this_hour - hour, "deliveries", "2xx"): 4,
        (this_hour - hour, "deliveries", "5xx"): 1,
        (this_hour, "deliveries", "2xx"): 2,
        (this_hour, "deliveries", "4xx"): 1,
        (this_hour, "errors", "error"): 2,
    }
    other = await http.get(url, headers=stranger)
    assert other.status_code == 200 and other.json()["points"] == []
