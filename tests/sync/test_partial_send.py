"""A page sent only in part: nothing lost, nothing written twice, the cursor not moved past it.

The stream's first page holds three records, the last larger than Kafka accepts: the first
two are handed to the producer (and acknowledged), the third never is, and the run fails.
The next run reads the page again (now within limits) and must write the third only.
"""

from __future__ import annotations

from pathlib import Path

from services.sync.app import create_app
from tests.harness import eventually, serving
from tests.runtime.factories import deploy_directory, installation
from tests.sync.conftest import canonical_of, put_snapshot, sync_settings, token_for

PARTIAL = Path(__file__).parent / "bundles" / "partial"


async def test_a_partly_sent_page_is_completed_once_by_the_next_run(
    infra, http, redis, keyring, producer
):
    snap = installation(await deploy_directory(redis, PARTIAL))
    headers = await token_for(redis, snap.workspace_id)
    url = f"/v1/installations/{snap.installation_id}/streams"
    async with serving(create_app(sync_settings(), infra.settings())) as sync:
        await put_snapshot(producer, snap)

        async def customers() -> dict | None:
            response = await http.get(f"{sync}{url}", headers=headers)
            if response.status_code != 200:
                return None
            found = {s["stream"]: s for s in response.json()["streams"]}.get("customers")
            return found if found and found["state"] == "ok" else None

        status = await eventually(customers)
    assert status["error_count"] == 1  # the partly sent page failed the first run
    assert status["cursor"] == "done"
    keys = [f"partial:customer:cus_{i}:{1_700_000_000 + i}" for i in range(3)]
    records = await canonical_of(
        infra.bootstrap_servers,
        snap.installation_id,
        lambda rs: set(keys) <= {r.idempotency_key for r in rs},
    )
    written = [r.idempotency_key for r in records]
    assert [written.count(key) for key in keys] == [1, 1, 1], written
