"""Installations: install, named connections, settings validation, disable, uninstall."""

from __future__ import annotations

import httpx

from tests.harness import Infra
from tests.registry.factories import (
    GOOD_KEY,
    Tenant,
    audit_events,
    deploy,
    install,
    installed_crm,
    manifest,
    snapshots_of,
)

CONFIG = {
    "properties": {
        "channel": {"type": "string"},
        "threshold": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.5},
        "mode": {"type": "string", "enum": ["fast", "careful"]},
        "enabled": {"type": "boolean"},
        "retries": {"type": "integer"},
        "callback": {"type": "string", "format": "uri"},
        "token": {"type": "string", "secret": True},
    },
    "required": ["channel"],
}


async def test_an_extension_without_required_settings_is_active_at_once(
    http: httpx.AsyncClient, registry: str, tenant: Tenant, infra: Infra
) -> None:
    await deploy(http, registry, tenant, manifest("notes"))
    response = await install(http, registry, tenant, "notes")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["state"] == "active" and body["revision"] == 1
    [snapshot] = await snapshots_of(infra, body["id"], 1)
    assert snapshot.state == "active" and snapshot.workspace_id == tenant.id
    assert snapshot.active.manifest.key == "notes"
    [event] = await audit_events(infra, tenant.id, "ExtensionInstalled")
    assert event.target == body["id"]


async def test_required_settings_keep_it_pending_until_they_validate(
    http: httpx.AsyncClient, registry: str, tenant: Tenant, infra: Infra
) -> None:
    await deploy(http, registry, tenant, manifest("notes", config=CONFIG))
    body = (await install(http, registry, tenant, "notes")).json()
    assert body["state"] == "pending" and body["missing_settings"] == ["channel"]
    assert body["settings"] == {"threshold": 0.5}  # defaults applied
    updated = await http.patch(
        f"{registry}/v1/installations/{body['id']}/settings",
        json={"settings": {"channel": "#ops", "mode": "careful"}},
        headers=tenant.admin,
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["state"] == "active" and updated.json()["revision"] == 2
    latest = max(await snapshots_of(infra, body["id"], 2), key=lambda s: s.revision)
    assert latest.settings == {"channel": "#ops", "mode": "careful", "threshold": 0.5}
    assert latest.state == "active"


async def test_invalid_settings_get_one_error_per_field(
    http: httpx.AsyncClient, registry: str, tenant: Tenant
) -> None:
    await deploy(http, registry, tenant, manifest("notes", config=CONFIG))
    response = await install(
        http,
        registry,
        tenant,
        "notes",
        settings={
            "channel": 7,
            "threshold": 3,
            "mode": "reckless",
            "enabled": "yes",
            "retries": 1.5,
            "callback": "not a url",
            "colour": "red",
        },
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["field"] == "settings.channel"
    assert set(error["details"]["errors"]) == {
        "channel",
        "threshold",
        "mode",
        "enabled",
        "retries",
        "callback",
        "colour",
    }
    assert "one of fast, careful" in error["details"]["errors"]["mode"]
    listed = await http.get(f"{registry}/v1/installations", headers=tenant.admin)
    assert listed.json() == []


async def test_secret_fields_in_settings_go_to_the_secret_store(
    http: httpx.AsyncClient, registry: str, tenant: Tenant, infra: Infra
) -> None:
    await deploy(http, registry, tenant, manifest("notes", config=CONFIG))
    body = (
        await install(
            http, registry, tenant, "notes", settings={"channel": "#a", "token": "tok-123"}
        )
    ).json()
    assert "token" not in body["settings"]
    assert [s["name"] for s in body["secrets"]] == ["token"]
    [snapshot] = await snapshots_of(infra, body["id"], 1)
    assert "token" not in snapshot.settings and snapshot.secrets["token"].revision == 1


async def test_named_connections_of_one_connector_sit_side_by_side(
    http: httpx.AsyncClient, registry: str, tenant: Tenant
) -> None:
    prod = await install(
        http,
        registry,
        tenant,
        "acme-crm",
        connection_name="production",
        settings={"api_key": GOOD_KEY},
    )
    test = await install(
        http, registry, tenant, "acme-crm", connection_name="test", settings={"api_key": GOOD_KEY}
    )
    assert prod.status_code == test.status_code == 201
    assert prod.json()["webhook_url"] != test.json()["webhook_url"]
    clash = await install(http, registry, tenant, "acme-crm", connection_name="test")
    assert clash.status_code == 409 and clash.json()["error"]["field"] == "connection_name"
    listed = (await http.get(f"{registry}/v1/installations", headers=tenant.member)).json()
    assert sorted(i["connection_name"] for i in listed) == ["production", "test"]


async def test_the_same_key_in_another_workspace_is_independent(
    http: httpx.AsyncClient, registry: str, tenant: Tenant, other_tenant: Tenant
) -> None:
    mine = (await install(http, registry, tenant, "acme-crm", settings={"region": "us"})).json()
    theirs = (await install(http, registry, other_tenant, "acme-crm")).json()
    assert mine["id"] != theirs["id"]
    assert mine["settings"]["region"] == "us" and theirs["settings"]["region"] == "eu"
    await http.post(f"{registry}/v1/installations/{mine['id']}/disable", headers=tenant.admin)
    again = await http.get(
        f"{registry}/v1/installations/{theirs['id']}", headers=other_tenant.admin
    )
    assert again.json()["state"] == "pending"


async def test_disable_keeps_configuration_and_enable_resumes(
    http: httpx.AsyncClient, registry: str, tenant: Tenant, infra: Infra
) -> None:
    await deploy(http, registry, tenant, manifest("notes", config=CONFIG))
    body = (await install(http, registry, tenant, "notes", settings={"channel": "#a"})).json()
    disabled = await http.post(
        f"{registry}/v1/installations/{body['id']}/disable", headers=tenant.admin
    )
    assert disabled.json()["state"] == "disabled"
    assert disabled.json()["settings"]["channel"] == "#a"
    snap = max(await snapshots_of(infra, body["id"], 2), key=lambda s: s.revision)
    assert snap.state == "disabled" and snap.settings["channel"] == "#a"
    again = await install(http, registry, tenant, "notes")
    assert again.status_code == 409 and "disabled" in again.json()["error"]["message"]
    enabled = await http.post(
        f"{registry}/v1/installations/{body['id']}/enable", headers=tenant.admin
    )
    assert enabled.json()["state"] == "active" and enabled.json()["revision"] == 3


async def test_uninstall_publishes_a_final_snapshot_and_write_protects_defined_entities(
    http: httpx.AsyncClient, registry: str, tenant: Tenant, infra: Infra
) -> None:
    await deploy(http, registry, tenant, manifest("tickets", defines=["ticket"], config=CONFIG))
    await deploy(http, registry, tenant, manifest("notes"))
    body = (
        await install(http, registry, tenant, "tickets", settings={"channel": "#a", "token": "t"})
    ).json()
    bystander = (await install(http, registry, tenant, "notes")).json()
    gone = await http.delete(f"{registry}/v1/installations/{body['id']}", headers=tenant.admin)
    assert gone.status_code == 200 and gone.json()["state"] == "uninstalled"
    final = max(await snapshots_of(infra, body["id"], 2), key=lambda s: s.revision)
    assert final.state == "uninstalled" and final.settings == {} and final.secrets == {}
    assert final.write_protected_entities == ["ticket"]
    other = max(await snapshots_of(infra, bystander["id"], 2), key=lambda s: s.revision)
    assert other.write_protected_entities == ["ticket"]
    assert (await http.get(f"{registry}/v1/installations", headers=tenant.admin)).json()[0][
        "id"
    ] == bystander["id"]
    changed = await http.patch(
        f"{registry}/v1/installations/{body['id']}/settings",
        json={"settings": {"channel": "#b"}},
        headers=tenant.admin,
    )
    assert changed.status_code == 409
    # Reinstalling something that defines `ticket` lifts the protection.
    back = (await install(http, registry, tenant, "tickets")).json()
    assert back["settings"] == {"threshold": 0.5} and back["secrets"] == []
    fresh = max(await snapshots_of(infra, back["id"], 1), key=lambda s: s.revision)
    assert fresh.write_protected_entities == []
    other = max(await snapshots_of(infra, bystander["id"], 3), key=lambda s: s.revision)
    assert other.write_protected_entities == []


async def test_a_secret_supplied_with_the_install_is_audited_like_any_secret_write(
    http: httpx.AsyncClient, registry: str, tenant: Tenant, infra: Infra
) -> None:
    response = await install(http, registry, tenant, "acme-crm", settings={"api_key": GOOD_KEY})
    assert response.status_code == 201, response.text
    iid = response.json()["id"]

    [event] = await audit_events(infra, tenant.id, "SecretSet")

    assert (event.target, event.details) == (iid, {"name": "api_key", "revision": 1})
    assert GOOD_KEY not in str(event)


async def test_a_secret_changed_through_settings_is_audited_as_rotated(
    http: httpx.AsyncClient, registry: str, tenant: Tenant, infra: Infra
) -> None:
    iid = await installed_crm(http, registry, tenant)

    updated = await http.patch(
        f"{registry}/v1/installations/{iid}/settings",
        json={"settings": {"api_key": "good-second"}},
        headers=tenant.admin,
    )

    assert updated.status_code == 200, updated.text
    [event] = await audit_events(infra, tenant.id, "SecretRotated")
    assert (event.target, event.details) == (iid, {"name": "api_key", "revision": 2})


async def test_upgrading_to_a_version_that_defines_a_protected_type_lifts_the_protection(
    http: httpx.AsyncClient, registry: str, tenant: Tenant, infra: Infra
) -> None:
    await deploy(http, registry, tenant, manifest("tickets", defines=["ticket"], config=CONFIG))
    await deploy(http, registry, tenant, manifest("notes"))
    body = (
        await install(http, registry, tenant, "tickets", settings={"channel": "#a", "token": "t"})
    ).json()
    notes = (await install(http, registry, tenant, "notes")).json()
    await http.delete(f"{registry}/v1/installations/{body['id']}", headers=tenant.admin)
    protected = max(await snapshots_of(infra, notes["id"], 2), key=lambda s: s.revision)
    assert protected.write_protected_entities == ["ticket"]
    # A new version of `notes` defines `ticket` (a wider grant: the admin approves it), and
    # once it is active the type is writable again.
    await deploy(http, registry, tenant, manifest("notes", version="2.0.0", defines=["ticket"]))
    approved = await http.post(
        f"{registry}/v1/installations/{notes['id']}/upgrade",
        json={"approve_permissions": True},
        headers=tenant.admin,
    )
    assert approved.status_code == 200, approved.text
    after = max(await snapshots_of(infra, notes["id"], 4), key=lambda s: s.revision)
    assert after.active is not None and after.active.label == "2.0.0"
    assert after.write_protected_entities == []
