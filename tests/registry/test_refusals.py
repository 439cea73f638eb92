"""APIs refuse what they should, saying why: malformed JSON, bad emails, removing a required
setting, promoting an extension that does not exist."""

from __future__ import annotations

import httpx

from tests.registry.factories import Tenant, deploy, install, manifest

CONFIG = {"properties": {"channel": {"type": "string"}}, "required": ["channel"]}


async def test_a_malformed_json_body_is_invalid_json_naming_the_body(
    http: httpx.AsyncClient, registry: str, tenant: Tenant
) -> None:
    answer = await http.post(
        f"{registry}/v1/installations", content=b'{"extension_key": ', headers=tenant.admin
    )
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == "invalid_json" and error["field"] == "body"
    assert error["message"].startswith("the request body is not valid JSON")


async def test_a_member_needs_a_real_email_address(
    http: httpx.AsyncClient, registry: str, tenant: Tenant
) -> None:
    for bad in ("not-an-email", "a@b", "two@@example.com", "sp ace@example.com"):
        answer = await http.post(
            f"{registry}/v1/members", json={"email": bad}, headers=tenant.admin
        )
        assert answer.status_code == 400, (bad, answer.text)
        assert answer.json()["error"]["field"] == "email"
        assert "is not an email address" in answer.json()["error"]["message"]
    emails = [
        m["email"] for m in (await http.get(f"{registry}/v1/members", headers=tenant.admin)).json()
    ]
    assert not {"not-an-email", "a@b"} & set(emails)
    good = await http.post(
        f"{registry}/v1/members", json={"email": "kim@example.com"}, headers=tenant.admin
    )
    assert good.status_code == 201, good.text


async def test_removing_a_required_setting_is_refused_and_the_installation_stays_active(
    http: httpx.AsyncClient, registry: str, tenant: Tenant
) -> None:
    await deploy(http, registry, tenant, manifest("notes", config=CONFIG))
    created = (await install(http, registry, tenant, "notes", settings={"channel": "ops"})).json()
    assert created["state"] == "active"
    url = f"{registry}/v1/installations/{created['id']}"
    answer = await http.patch(
        f"{url}/settings", json={"settings": {"channel": None}}, headers=tenant.admin
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["field"] == "settings.channel"
    assert "required" in answer.json()["error"]["message"]
    after = (await http.get(url, headers=tenant.admin)).json()
    assert after["state"] == "active" and after["settings"] == {"channel": "ops"}


async def test_promoting_an_unknown_extension_says_it_does_not_exist(
    http: httpx.AsyncClient, registry: str, tenant: Tenant
) -> None:
    answer = await http.post(
        f"{registry}/v1/extensions/never-deployed/promote", headers=tenant.admin
    )
    assert answer.status_code == 404, answer.text
    assert answer.json()["error"]["message"] == "no extension 'never-deployed' in this workspace"
    await deploy(http, registry, tenant, manifest("notes"))
    known = await http.post(f"{registry}/v1/extensions/notes/promote", headers=tenant.admin)
    assert known.status_code == 409 and "no observation version" in known.json()["error"]["message"]
