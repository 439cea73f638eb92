"""Workspaces, members, roles and tokens through the HTTP API."""

from __future__ import annotations

import httpx

from tests.harness import Infra
from tests.registry.factories import Tenant, audit_events, auth, install, redis_dump


async def test_a_request_without_a_token_is_401(http: httpx.AsyncClient, registry: str) -> None:
    response = await http.get(f"{registry}/v1/installations")
    assert response.status_code == 401
    assert (await http.get(f"{registry}/v1/catalog", headers=auth("bft_nope"))).status_code == 401


async def test_me_names_the_tokens_workspace_member_and_role(
    http: httpx.AsyncClient, registry: str, tenant: Tenant
) -> None:
    admin = (await http.get(f"{registry}/v1/me", headers=tenant.admin)).json()
    member = (await http.get(f"{registry}/v1/me", headers=tenant.member)).json()
    assert admin["workspace"]["id"] == member["workspace"]["id"] == tenant.id
    assert (admin["member"]["role"], admin["member"]["email"]) == ("admin", "admin@example.com")
    assert (member["member"]["role"], member["member"]["email"]) == ("member", "member@example.com")
    assert (await http.get(f"{registry}/v1/me")).status_code == 401


async def test_members_read_but_only_admins_change(
    http: httpx.AsyncClient, registry: str, tenant: Tenant
) -> None:
    assert (await http.get(f"{registry}/v1/catalog", headers=tenant.member)).status_code == 200
    response = await http.post(
        f"{registry}/v1/installations", json={"extension_key": "acme-crm"}, headers=tenant.member
    )
    assert response.status_code == 403
    assert (await http.get(f"{registry}/v1/installations", headers=tenant.member)).json() == []


async def test_another_workspaces_installation_is_404_not_403(
    http: httpx.AsyncClient, registry: str, tenant: Tenant, other_tenant: Tenant
) -> None:
    created = (await install(http, registry, tenant, "acme-crm")).json()
    for headers in (other_tenant.admin, other_tenant.member):
        for path in ("", "/secrets", "/permissions", "/webhook"):
            response = await http.get(
                f"{registry}/v1/installations/{created['id']}{path}", headers=headers
            )
            assert response.status_code == 404, path
    unknown = await http.get(
        f"{registry}/v1/installations/inst_unknown", headers=other_tenant.admin
    )
    assert unknown.json()["error"]["code"] == "not_found"
    assert (
        await http.delete(
            f"{registry}/v1/installations/{created['id']}", headers=other_tenant.admin
        )
    ).status_code == 404


async def test_tokens_are_shown_once_and_stored_only_hashed(
    http: httpx.AsyncClient, registry: str, tenant: Tenant, infra: Infra
) -> None:
    issued = await http.post(f"{registry}/v1/tokens", json={"name": "ci"}, headers=tenant.admin)
    token = issued.json()["token"]
    listed = await http.get(f"{registry}/v1/tokens", headers=tenant.admin)
    assert token not in listed.text
    assert (await http.get(f"{registry}/v1/workspace", headers=auth(token))).status_code == 200
    assert token.encode() not in repr(await redis_dump(infra)).encode()


async def test_a_revoked_token_stops_working_at_once_and_stays_listed_as_revoked(
    http: httpx.AsyncClient, registry: str, tenant: Tenant, infra: Infra
) -> None:
    issued = (
        await http.post(f"{registry}/v1/tokens", json={"name": "ci"}, headers=tenant.admin)
    ).json()
    assert (await http.get(f"{registry}/v1/workspace", headers=auth(issued["token"]))).is_success

    revoked = await http.delete(f"{registry}/v1/tokens/{issued['id']}", headers=tenant.admin)

    assert revoked.status_code == 200
    assert revoked.json()["status"] == "revoked"
    after = await http.get(f"{registry}/v1/workspace", headers=auth(issued["token"]))
    assert after.status_code == 401
    listed = (await http.get(f"{registry}/v1/tokens", headers=tenant.admin)).json()
    assert [t["status"] for t in listed if t["id"] == issued["id"]] == ["revoked"]
    again = await http.delete(f"{registry}/v1/tokens/{issued['id']}", headers=tenant.admin)
    assert again.json()["status"] == "revoked"  # idempotent
    events = await audit_events(infra, tenant.id, "TokenRevoked")
    # One revocation (the second DELETE is idempotent). The outbox relay is at least once
    # (another registry on the same Valkey may relay it too): one event id, however often.
    assert sorted({e.event_id: e.target for e in events}.values()) == [issued["id"]]


async def test_members_revoke_only_their_own_tokens_and_never_another_workspaces(
    http: httpx.AsyncClient, registry: str, tenant: Tenant, other_tenant: Tenant
) -> None:
    own = (
        await http.post(f"{registry}/v1/tokens", json={"name": "laptop"}, headers=tenant.member)
    ).json()
    admins = (
        await http.post(f"{registry}/v1/tokens", json={"name": "ops"}, headers=tenant.admin)
    ).json()

    forbidden = await http.delete(f"{registry}/v1/tokens/{admins['id']}", headers=tenant.member)
    foreign = await http.delete(f"{registry}/v1/tokens/{admins['id']}", headers=other_tenant.admin)
    unknown = await http.delete(f"{registry}/v1/tokens/tok_unknown", headers=tenant.admin)
    mine = await http.delete(f"{registry}/v1/tokens/{own['id']}", headers=tenant.member)

    assert forbidden.status_code == 403
    assert foreign.status_code == 404
    assert unknown.status_code == 404
    assert unknown.json()["error"]["field"] == "token_id"
    assert mine.status_code == 200
    assert (await http.get(f"{registry}/v1/workspace", headers=auth(admins["token"]))).is_success
