"""Permissions view, upgrade diff, approval of widening upgrades, rollback and promote."""

from __future__ import annotations

import httpx

from tests.harness import Infra
from tests.registry.factories import Tenant, deploy, install, manifest, snapshots_of

V1 = manifest("enricher", "1.0.0", hosts=["api.one.test"], entities=[{"type": "company"}])
V2 = manifest(
    "enricher",
    "2.0.0",
    hosts=["api.one.test", "api.two.test"],
    entities=[{"type": "company", "access": "write"}],
    secrets=["api_key"],
)
V3 = manifest("enricher", "3.0.0", hosts=["api.one.test"])  # narrower than V1
V1_1 = manifest("enricher", "1.1.0", hosts=["api.one.test"], entities=[{"type": "company"}])


async def _installed(http: httpx.AsyncClient, registry: str, tenant: Tenant) -> tuple[str, str]:
    v1 = (await deploy(http, registry, tenant, V1)).json()["version_id"]
    return (await install(http, registry, tenant, "enricher")).json()["id"], v1


async def test_permissions_show_what_the_active_manifest_grants(
    http: httpx.AsyncClient, registry: str, tenant: Tenant
) -> None:
    iid, _ = await _installed(http, registry, tenant)
    response = await http.get(
        f"{registry}/v1/installations/{iid}/permissions", headers=tenant.member
    )
    assert response.json() == {
        "entities": ["company:read"],
        "hosts": ["api.one.test"],
        "secrets": [],
        "defines_entities": [],
        "hooks": [],
    }


async def test_upgrade_diff_lists_added_and_removed_grants(
    http: httpx.AsyncClient, registry: str, tenant: Tenant
) -> None:
    iid, v1 = await _installed(http, registry, tenant)
    v2 = (await deploy(http, registry, tenant, V2, mode="observe")).json()["version_id"]
    diff = (
        await http.get(
            f"{registry}/v1/installations/{iid}/upgrade-diff",
            params={"to": v2},
            headers=tenant.admin,
        )
    ).json()
    assert diff["from_version"] == v1 and diff["to_version"] == v2 and diff["widens"] is True
    assert diff["added"]["hosts"] == ["api.two.test"]
    assert diff["added"]["entities"] == ["company:write"]
    assert diff["added"]["secrets"] == ["api_key"]
    assert diff["removed"]["entities"] == ["company:read"]
    unknown = await http.get(
        f"{registry}/v1/installations/{iid}/upgrade-diff",
        params={"to": "ver_nope"},
        headers=tenant.admin,
    )
    assert unknown.status_code == 404 and unknown.json()["error"]["field"] == "to"


async def test_a_widening_deploy_waits_for_approval_and_the_install_stays_on_its_version(
    http: httpx.AsyncClient, registry: str, tenant: Tenant, infra: Infra
) -> None:
    iid, v1 = await _installed(http, registry, tenant)
    v2 = (await deploy(http, registry, tenant, V2)).json()["version_id"]
    held = max(await snapshots_of(infra, iid, 2), key=lambda s: s.revision)
    assert held.active.version_id == v1 and held.pending_upgrade.version_id == v2
    url = f"{registry}/v1/installations/{iid}/upgrade"
    waiting = await http.post(url, json={}, headers=tenant.admin)
    assert waiting.json()["active"]["version_id"] == v1
    assert waiting.json()["pending_upgrade"]["version_id"] == v2
    approved = await http.post(url, json={"approve_permissions": True}, headers=tenant.admin)
    assert approved.status_code == 200
    assert (
        approved.json()["active"]["version_id"] == v2 and approved.json()["pending_upgrade"] is None
    )
    live = max(await snapshots_of(infra, iid, 3), key=lambda s: s.revision)
    assert live.revision == 3 and live.active.version_id == v2


async def test_a_narrowing_deploy_cuts_over_without_approval(
    http: httpx.AsyncClient, registry: str, tenant: Tenant, infra: Infra
) -> None:
    iid, _ = await _installed(http, registry, tenant)
    v3 = (await deploy(http, registry, tenant, V3)).json()["version_id"]
    live = max(await snapshots_of(infra, iid, 2), key=lambda s: s.revision)
    assert live.active.version_id == v3 and live.pending_upgrade is None


async def test_rollback_to_any_prior_version_is_one_new_revision(
    http: httpx.AsyncClient, registry: str, tenant: Tenant, infra: Infra
) -> None:
    iid, v1 = await _installed(http, registry, tenant)
    v3 = (await deploy(http, registry, tenant, V1_1)).json()["version_id"]
    rolled = await http.post(
        f"{registry}/v1/installations/{iid}/rollback", json={"to": v1}, headers=tenant.admin
    )
    assert rolled.status_code == 200 and rolled.json()["active"]["version_id"] == v1
    snaps = await snapshots_of(infra, iid, 3)
    assert [s.active.version_id for s in sorted(snaps, key=lambda s: s.revision)] == [v1, v3, v1]
    versions = (
        await http.get(f"{registry}/v1/installations/{iid}/versions", headers=tenant.member)
    ).json()
    assert versions["active"]["version_id"] == v1
    assert [v["version_id"] for v in versions["history"]] == [v1, v3]
    # The installation's own state, not the key's (v3 stays the key's current deployment).
    assert [v["state"] for v in versions["history"]] == [["active"], []]


async def test_rollback_to_a_widening_version_needs_approval(
    http: httpx.AsyncClient, registry: str, tenant: Tenant
) -> None:
    iid, _ = await _installed(http, registry, tenant)
    v2 = (await deploy(http, registry, tenant, V2, mode="observe")).json()["version_id"]
    url = f"{registry}/v1/installations/{iid}/rollback"
    refused = await http.post(url, json={"to": v2}, headers=tenant.admin)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "approval_required"
    ok = await http.post(url, json={"to": v2, "approve_permissions": True}, headers=tenant.admin)
    assert ok.json()["active"]["version_id"] == v2


async def test_promote_on_an_installation_makes_its_observation_active(
    http: httpx.AsyncClient, registry: str, tenant: Tenant, infra: Infra
) -> None:
    iid, _ = await _installed(http, registry, tenant)
    v3 = (await deploy(http, registry, tenant, V3, mode="observe")).json()["version_id"]
    promoted = await http.post(
        f"{registry}/v1/installations/{iid}/promote", json={}, headers=tenant.admin
    )
    assert promoted.json()["active"]["version_id"] == v3 and promoted.json()["observation"] is None
    live = max(await snapshots_of(infra, iid, 3), key=lambda s: s.revision)
    assert live.active.version_id == v3 and live.observation is None
