"""The snapshot follower: every partition, from the beginning, ready only once caught up."""

from __future__ import annotations

from contracts.topics import INSTALLATION_SNAPSHOTS
from services.ingress.app import create_app
from tests.harness import serving, wait_ready
from tests.ingress.conftest import Ingress, ingress_settings
from tests.ingress.factories import announce, changed, deploy, installation, token_for


class TestSnapshotFollower:
    async def test_a_new_replica_is_ready_only_once_it_resolves_every_installation(
        self, ingress: Ingress
    ) -> None:
        version = await deploy(ingress.redis)
        snapshots = [
            installation(version, ingress.keyring)
            for _ in range(3 * INSTALLATION_SNAPSHOTS.partitions)
        ]
        for snapshot in snapshots:
            await announce(ingress.producer, snapshot)
        token = await token_for(ingress.redis, snapshots[0].workspace_id)

        async with serving(create_app(ingress_settings(), ingress.infra.settings())) as url:
            await wait_ready(ingress.http, url)
            found = [
                await ingress.http.get(
                    f"{url}/v1/installations/{s.installation_id}/webhook",
                    headers={"authorization": f"Bearer {token}"},
                )
                for s in snapshots
            ]

        assert [r.status_code for r in found] == [200] * len(snapshots)

    async def test_an_older_revision_arriving_late_does_not_roll_the_view_back(
        self, ingress: Ingress
    ) -> None:
        version = await deploy(ingress.redis)
        first = installation(version, ingress.keyring)
        disabled = changed(first, state="disabled")
        await ingress.install(disabled)
        await announce(ingress.producer, first)  # stale: revision 1 after revision 2
        marker = await ingress.install(changed(disabled))

        response = await ingress.api(
            "GET", f"/v1/installations/{first.installation_id}/webhook", first.workspace_id
        )

        assert response.json()["state"] == "disabled"
        assert response.json()["revision"] == marker.revision
