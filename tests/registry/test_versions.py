"""Deploys: content-addressed immutable versions, modes, history, promotion, the catalog."""

from __future__ import annotations

import json

import httpx

from sdk.bundle import bundle_key, digest_of
from services.base.keys import create_redis
from tests.harness import Infra
from tests.registry.conftest import FakeSync, registry_settings, running_registry
from tests.registry.factories import (
    Tenant,
    bundle,
    deploy,
    install,
    manifest,
    raw_bundle,
    snapshots_of,
)


async def test_deploying_stores_the_bundle_and_the_same_bundle_twice_is_the_same_version(
    http: httpx.AsyncClient, registry: str, tenant: Tenant, infra: Infra
) -> None:
    data = manifest("notes", "1.0.0")
    first = await deploy(http, registry, tenant, data)
    assert first.status_code == 201, first.text
    body = first.json()
    assert set(body) == {
        "version_id",
        "digest",
        "label",
        "mode",
        "deployed_at",
        "deployed_by",
        "created",
    }
    assert body["digest"] == digest_of(bundle(data)) and body["created"] is True
    assert body["label"] == "1.0.0" and body["mode"] == "active"
    again = await deploy(http, registry, tenant, data)
    assert again.status_code == 200
    assert again.json()["version_id"] == body["version_id"] and again.json()["created"] is False
    assert again.json()["deployed_at"] == body["deployed_at"]
    redis = create_redis(infra.redis_url)
    try:
        assert await redis.get(bundle_key(body["digest"])) == bundle(data)
    finally:
        await redis.aclose()


async def test_history_lists_every_version_with_time_and_deployer(
    http: httpx.AsyncClient, registry: str, tenant: Tenant
) -> None:
    ids = [
        (await deploy(http, registry, tenant, manifest("notes", v))).json()["version_id"]
        for v in ("1.0.0", "1.1.0", "2.0.0")
    ]
    me = (await http.get(f"{registry}/v1/members", headers=tenant.admin)).json()[0]["id"]
    history = (
        await http.get(f"{registry}/v1/extensions/notes/versions", headers=tenant.member)
    ).json()
    assert [v["version_id"] for v in history] == ids
    assert all(v["deployed_by"] == me and v["deployed_at"] > 0 for v in history)
    assert history[-1]["state"] == ["active"]


async def test_a_manifest_whose_key_differs_from_the_url_is_400_naming_key(
    http: httpx.AsyncClient, registry: str, tenant: Tenant
) -> None:
    response = await http.post(
        f"{registry}/v1/extensions/other/versions",
        content=bundle(manifest("notes")),
        headers={**tenant.admin, "content-type": "application/gzip"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "key"


async def test_an_invalid_manifest_is_400_naming_the_manifest_field(
    http: httpx.AsyncClient, registry: str, tenant: Tenant
) -> None:
    bad = manifest("notes", hosts=["https://x.test/a"])
    response = await http.post(
        f"{registry}/v1/extensions/notes/versions",
        content=raw_bundle(json.dumps(bad).encode()),
        headers={**tenant.admin, "content-type": "application/gzip"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "permissions.http[0]"
    garbage = await http.post(
        f"{registry}/v1/extensions/notes/versions",
        content=b"not an archive",
        headers={**tenant.admin, "content-type": "application/gzip"},
    )
    assert garbage.status_code == 400 and garbage.json()["error"]["field"] == "bundle"


async def test_members_cannot_deploy(
    http: httpx.AsyncClient, registry: str, tenant: Tenant
) -> None:
    response = await http.post(
        f"{registry}/v1/extensions/notes/versions",
        content=bundle(manifest("notes")),
        headers={**tenant.member, "content-type": "application/gzip"},
    )
    assert response.status_code == 403


async def test_an_active_deploy_cuts_installations_over_in_one_revision(
    http: httpx.AsyncClient, registry: str, tenant: Tenant, infra: Infra
) -> None:
    await deploy(http, registry, tenant, manifest("notes", "1.0.0"))
    installed = (await install(http, registry, tenant, "notes")).json()
    v2 = (await deploy(http, registry, tenant, manifest("notes", "1.0.1"))).json()
    snaps = await snapshots_of(infra, installed["id"], 2)
    latest = max(snaps, key=lambda s: s.revision)
    assert latest.revision == 2 and latest.active.version_id == v2["version_id"]


async def test_observe_runs_beside_active_and_promote_makes_it_active(
    http: httpx.AsyncClient, registry: str, tenant: Tenant, infra: Infra
) -> None:
    v1 = (await deploy(http, registry, tenant, manifest("notes", "1.0.0"))).json()
    installed = (await install(http, registry, tenant, "notes")).json()
    v2 = (await deploy(http, registry, tenant, manifest("notes", "2.0.0"), mode="observe")).json()
    assert v2["mode"] == "observe"
    observed = max(await snapshots_of(infra, installed["id"], 2), key=lambda s: s.revision)
    assert observed.active.version_id == v1["version_id"]
    assert observed.observation.version_id == v2["version_id"]
    promoted = await http.post(f"{registry}/v1/extensions/notes/promote", headers=tenant.admin)
    assert promoted.status_code == 200 and promoted.json()["version_id"] == v2["version_id"]
    live = max(await snapshots_of(infra, installed["id"], 3), key=lambda s: s.revision)
    assert live.revision == 3
    assert live.active.version_id == v2["version_id"] and live.observation is None
    again = await http.post(f"{registry}/v1/extensions/notes/promote", headers=tenant.admin)
    assert again.status_code == 409


async def test_a_draft_is_replaced_by_every_draft_deploy_and_belongs_to_its_deployer(
    http: httpx.AsyncClient, registry: str, tenant: Tenant, infra: Infra
) -> None:
    v1 = (await deploy(http, registry, tenant, manifest("notes", "1.0.0"))).json()
    installed = (await install(http, registry, tenant, "notes")).json()
    me = (await http.get(f"{registry}/v1/members", headers=tenant.admin)).json()[0]["id"]
    await deploy(http, registry, tenant, manifest("notes", "1.1.0-dev.1"), mode="draft")
    d2 = (
        await deploy(http, registry, tenant, manifest("notes", "1.1.0-dev.2"), mode="draft")
    ).json()
    latest = max(await snapshots_of(infra, installed["id"], 3), key=lambda s: s.revision)
    assert latest.draft.version_id == d2["version_id"] and latest.draft_member_id == me
    assert latest.active.version_id == v1["version_id"]
    history = (
        await http.get(f"{registry}/v1/extensions/notes/versions", headers=tenant.admin)
    ).json()
    assert [v["state"] for v in history] == [["active"], [], ["draft"]]


async def test_a_draft_carries_its_dev_session_and_only_that_session_removes_it(
    http: httpx.AsyncClient, registry: str, tenant: Tenant, infra: Infra
) -> None:
    await deploy(http, registry, tenant, manifest("notes", "1.0.0"))
    installed = (await install(http, registry, tenant, "notes")).json()
    draft = await http.post(
        f"{registry}/v1/extensions/notes/versions",
        params={"mode": "draft", "session": "sess-new"},
        content=bundle(manifest("notes", "1.1.0-dev.1")),
        headers={**tenant.admin, "content-type": "application/gzip"},
    )
    assert draft.status_code == 201
    latest = max(await snapshots_of(infra, installed["id"], 2), key=lambda s: s.revision)
    assert latest.draft_session_id == "sess-new"
    url = f"{registry}/v1/extensions/notes/draft"
    stale = await http.delete(url, params={"session": "sess-old"}, headers=tenant.admin)
    assert stale.status_code == 204
    kept = await http.get(f"{registry}/v1/installations/{installed['id']}", headers=tenant.admin)
    assert kept.json()["draft"]["version_id"] == draft.json()["version_id"]
    member = await http.delete(url, params={"session": "sess-new"}, headers=tenant.member)
    assert member.status_code == 403
    assert (
        await http.delete(url, params={"session": "sess-new"}, headers=tenant.admin)
    ).status_code == 204
    removed = max(await snapshots_of(infra, installed["id"], 3), key=lambda s: s.revision)
    assert removed.draft is None and removed.draft_session_id is None
    history = await http.get(f"{registry}/v1/extensions/notes/versions", headers=tenant.admin)
    assert [v["state"] for v in history.json()] == [["active"], []]


async def test_the_catalog_lists_first_party_connectors_for_every_workspace(
    http: httpx.AsyncClient, registry: str, tenant: Tenant, other_tenant: Tenant
) -> None:
    for who in (tenant, other_tenant):
        catalog = (await http.get(f"{registry}/v1/catalog", headers=who.member)).json()
        acme = next(e for e in catalog if e["key"] == "acme-crm")
        assert acme["first_party"] is True and acme["kind"] == "connector"
        assert acme["permissions"]["hosts"] == ["api.acme.test"]
        assert acme["permissions"]["secrets"] == ["api_key"]
        assert acme["permissions"]["entities"] == ["contact:write"]
        assert acme["webhooks"] is True and acme["streams"] == ["contacts"]
        assert acme["version"] == "1.0.0"
    versions = (
        await http.get(f"{registry}/v1/extensions/acme-crm/versions", headers=tenant.admin)
    ).json()
    assert [v["deployed_by"] for v in versions] == ["backfill"]


async def test_private_extensions_appear_only_in_their_workspace_catalog(
    http: httpx.AsyncClient, registry: str, tenant: Tenant, other_tenant: Tenant
) -> None:
    await deploy(http, registry, tenant, manifest("notes", hosts=["api.notes.test"]))
    mine = (await http.get(f"{registry}/v1/catalog/notes", headers=tenant.member)).json()
    assert mine["first_party"] is False and mine["permissions"]["hosts"] == ["api.notes.test"]
    assert [(p["path"], p["title"]) for p in mine["pages"]] == [("/overview", "Overview")]
    assert mine["ui"][0]["slot"] == "installation.overview.panel"
    theirs = await http.get(f"{registry}/v1/catalog", headers=other_tenant.admin)
    assert "notes" not in [e["key"] for e in theirs.json()]
    assert (
        await http.get(f"{registry}/v1/catalog/notes", headers=other_tenant.admin)
    ).status_code == 404
    assert (await install(http, registry, other_tenant, "notes")).status_code == 404


async def test_first_party_registration_at_start_is_idempotent(
    http: httpx.AsyncClient, registry: str, tenant: Tenant, infra: Infra, fake_sync: FakeSync
) -> None:
    async with running_registry(infra, http, registry_settings(fake_sync)) as second:
        versions = await http.get(f"{second}/v1/extensions/acme-crm/versions", headers=tenant.admin)
        assert len(versions.json()) == 1
