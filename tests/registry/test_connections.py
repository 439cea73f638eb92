"""Connections: webhook URLs, test-connection through sync, OAuth with PKCE."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from litestar import Litestar, Request, Response, get, post

from cli.embedded import free_port
from tests.harness import Infra, serving
from tests.registry.conftest import FakeSync, registry_settings, running_registry
from tests.registry.factories import (
    GOOD_KEY,
    Tenant,
    deploy,
    install,
    installed_crm,
    manifest,
    redis_dump,
    snapshots_of,
    wait_outbox_drained,
)


async def test_each_installation_gets_an_unguessable_webhook_url_that_rotates(
    http: httpx.AsyncClient, registry: str, tenant: Tenant, infra: Infra
) -> None:
    iid = (await install(http, registry, tenant, "acme-crm")).json()["id"]
    hook = (
        await http.get(f"{registry}/v1/installations/{iid}/webhook", headers=tenant.member)
    ).json()
    random_part = hook["hook_id"].removeprefix("hk_")
    assert len(random_part) * 5 >= 128  # base32: 5 bits per character
    assert hook["url"] == f"https://hooks.example.test/hooks/{hook['hook_id']}"
    rotated = await http.post(
        f"{registry}/v1/installations/{iid}/webhook/rotate", headers=tenant.admin
    )
    assert rotated.json()["hook_id"] != hook["hook_id"]
    latest = max(await snapshots_of(infra, iid, 2), key=lambda s: s.revision)
    assert latest.hook_id == rotated.json()["hook_id"]


async def test_test_connection_asks_sync_with_the_stored_credentials(
    http: httpx.AsyncClient, registry: str, tenant: Tenant, fake_sync: FakeSync
) -> None:
    iid = await installed_crm(http, registry, tenant)
    response = await http.post(
        f"{registry}/v1/installations/{iid}/test-connection", headers=tenant.admin
    )
    assert response.json() == {"ok": True, "message": "authenticated"}
    call = fake_sync.calls[-1]
    assert call["secrets"] == {"api_key": GOOD_KEY}
    assert call["installation"]["installation_id"] == iid
    assert call["version"]["manifest"]["key"] == "acme-crm"
    assert call["settings"] == {"region": "eu"}


async def test_credentials_are_saved_only_when_the_connection_test_succeeds(
    http: httpx.AsyncClient, registry: str, tenant: Tenant, fake_sync: FakeSync
) -> None:
    iid = (await install(http, registry, tenant, "acme-crm")).json()["id"]
    secrets_url = f"{registry}/v1/installations/{iid}/secrets"
    bad = await http.put(f"{secrets_url}/api_key", json={"value": "bad-key"}, headers=tenant.admin)
    assert bad.status_code == 422 and "invalid api key" in bad.json()["error"]["message"]
    assert (await http.get(secrets_url, headers=tenant.admin)).json() == []
    via_settings = await http.patch(
        f"{registry}/v1/installations/{iid}/settings",
        json={"settings": {"api_key": "bad-again"}},
        headers=tenant.admin,
    )
    assert via_settings.status_code == 422
    good = await http.put(f"{secrets_url}/api_key", json={"value": GOOD_KEY}, headers=tenant.admin)
    assert good.status_code == 200
    current = (await http.get(f"{registry}/v1/installations/{iid}", headers=tenant.admin)).json()
    assert current["state"] == "active" and current["revision"] == 2
    # The webhook signing secret is not a credential the connector tests.
    calls = len(fake_sync.calls)
    signing = await http.put(
        f"{secrets_url}/webhook_secret", json={"value": "whsec_x"}, headers=tenant.admin
    )
    assert signing.status_code == 200 and len(fake_sync.calls) == calls


async def test_an_unreachable_sync_service_is_503_and_saves_nothing(
    http: httpx.AsyncClient, infra: Infra, fake_sync: FakeSync, tenant: Tenant
) -> None:
    settings = registry_settings(fake_sync, sync_url=f"http://127.0.0.1:{free_port()}")
    async with running_registry(infra, http, settings) as url:
        iid = (await install(http, url, tenant, "acme-crm")).json()["id"]
        await wait_outbox_drained(infra, tenant.id)
        before = await redis_dump(infra)
        response = await http.put(
            f"{url}/v1/installations/{iid}/secrets/api_key",
            json={"value": GOOD_KEY},
            headers=tenant.admin,
        )
        assert response.status_code == 503
        after = await redis_dump(infra)
        assert {k: v for k, v in after.items() if tenant.id in k} == {
            k: v for k, v in before.items() if tenant.id in k
        }


class FakeOAuth:
    """A real authorization server: PKCE S256, single-use codes, invalid_grant."""

    def __init__(self) -> None:
        self.codes: dict[str, dict[str, str]] = {}
        self.client_secret = "cs-" + secrets.token_hex(8)

    def app(self) -> Litestar:
        @get("/authorize")
        async def authorize(request: Request[Any, Any, Any]) -> Response[None]:
            q = request.query_params
            code = "code-" + secrets.token_hex(8)
            self.codes[code] = {"challenge": q["code_challenge"], "client_id": q["client_id"]}
            assert q["code_challenge_method"] == "S256"
            target = f"{q['redirect_uri']}?code={code}&state={q['state']}"
            return Response(None, status_code=302, headers={"location": target})

        @post("/token", status_code=200)
        async def token(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
            form = await request.form()
            grant = self.codes.pop(form.get("code", ""), None)
            verifier = form.get("code_verifier", "")
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            if (
                grant is None
                or challenge.decode().rstrip("=") != grant["challenge"]
                or form.get("client_id") != grant["client_id"]
                or form.get("client_secret") != self.client_secret
            ):
                return Response({"error": "invalid_grant"}, status_code=400)
            return Response(
                {
                    "access_token": "at-" + secrets.token_hex(8),
                    "refresh_token": "rt-" + secrets.token_hex(8),
                    "expires_in": 3600,
                    "scope": "contacts.read",
                    "token_type": "bearer",
                }
            )

        return Litestar([authorize, token])


def oauth_connector(base: str) -> dict[str, Any]:
    return manifest(
        "oauth-crm",
        kind="connector",
        connection={
            "settingsSchema": {
                "properties": {
                    "client_id": {"type": "string"},
                    "client_secret": {"type": "string", "secret": True},
                },
                "required": ["client_id"],
            }
        },
        oauth={
            "authorizeUrl": f"{base}/authorize",
            "tokenUrl": f"{base}/token",
            "scopes": ["contacts.read"],
        },
    )


async def test_oauth_start_callback_stores_tokens_sealed(
    http: httpx.AsyncClient, registry: str, tenant: Tenant, infra: Infra
) -> None:
    provider = FakeOAuth()
    async with serving(provider.app()) as base:
        await deploy(http, registry, tenant, oauth_connector(base))
        created = await install(
            http,
            registry,
            tenant,
            "oauth-crm",
            settings={"client_id": "cid-1", "client_secret": provider.client_secret},
        )
        iid = created.json()["id"]
        assert created.json()["oauth_status"] == "not_connected"
        started = (
            await http.post(f"{registry}/v1/installations/{iid}/oauth/start", headers=tenant.admin)
        ).json()
        query = parse_qs(urlsplit(started["authorization_url"]).query)
        assert query["state"] == [started["state"]] and query["code_challenge_method"] == ["S256"]
        assert query["client_id"] == ["cid-1"] and query["scope"] == ["contacts.read"]
        redirect = await http.get(started["authorization_url"])
        callback = parse_qs(urlsplit(redirect.headers["location"]).query)
        done = await http.get(
            f"{registry}/v1/oauth/callback",
            params={"code": callback["code"][0], "state": callback["state"][0]},
        )
        assert done.status_code == 200, done.text
        assert done.json()["status"] == "connected" and done.json()["scopes"] == ["contacts.read"]
        status = await http.get(f"{registry}/v1/installations/{iid}/oauth", headers=tenant.member)
        assert status.json()["status"] == "connected"
        latest = max(await snapshots_of(infra, iid, 2), key=lambda s: s.revision)
        assert latest.oauth.status == "connected" and latest.oauth.access_token is not None
        assert b"at-" not in latest.oauth.access_token.ciphertext
        replay = await http.get(
            f"{registry}/v1/oauth/callback",
            params={"code": callback["code"][0], "state": callback["state"][0]},
        )
        assert replay.status_code == 400 and replay.json()["error"]["field"] == "state"


async def test_a_refused_authorization_code_is_400_and_leaves_the_connection_unchanged(
    http: httpx.AsyncClient, registry: str, tenant: Tenant
) -> None:
    provider = FakeOAuth()
    async with serving(provider.app()) as base:
        await deploy(http, registry, tenant, oauth_connector(base))
        iid = (
            await install(http, registry, tenant, "oauth-crm", settings={"client_id": "cid-1"})
        ).json()["id"]
        started = (
            await http.post(f"{registry}/v1/installations/{iid}/oauth/start", headers=tenant.admin)
        ).json()
        done = await http.get(
            f"{registry}/v1/oauth/callback", params={"code": "forged", "state": started["state"]}
        )
        assert done.status_code == 400 and "invalid_grant" in done.json()["error"]["message"]
        status = await http.get(f"{registry}/v1/installations/{iid}/oauth", headers=tenant.admin)
        assert status.json()["status"] == "not_connected"


async def test_sync_reports_refreshed_tokens_and_needs_reauth_with_the_internal_token(
    http: httpx.AsyncClient, registry: str, tenant: Tenant, infra: Infra
) -> None:
    await deploy(http, registry, tenant, oauth_connector("https://auth.example.test"))
    iid = (
        await install(http, registry, tenant, "oauth-crm", settings={"client_id": "cid-1"})
    ).json()["id"]
    url = f"{registry}/internal/installations/{iid}/oauth"
    body = {"workspace_id": tenant.id, "status": "connected", "access_token": "at-refreshed"}
    assert (await http.post(url, json=body, headers=tenant.admin)).status_code == 401
    internal = {"authorization": f"Bearer {infra.settings().internal_token}"}
    refreshed = await http.post(url, json={**body, "expires_in": 60}, headers=internal)
    assert refreshed.status_code == 200 and refreshed.json()["status"] == "connected"
    connected = max(await snapshots_of(infra, iid, 2), key=lambda s: s.revision)
    assert connected.oauth.status == "connected" and connected.oauth.token_revision == 1
    assert b"at-refreshed" not in connected.oauth.access_token.ciphertext
    failed = await http.post(
        url,
        json={"workspace_id": tenant.id, "status": "needs_reauth", "reason": "invalid_grant"},
        headers=internal,
    )
    assert failed.json()["status"] == "needs_reauth"
    status = await http.get(f"{registry}/v1/installations/{iid}/oauth", headers=tenant.member)
    assert status.json()["status"] == "needs_reauth"
    latest = max(await snapshots_of(infra, iid, 3), key=lambda s: s.revision)
    assert latest.oauth.status == "needs_reauth" and latest.oauth.access_token is None
    elsewhere = await http.post(url, json={**body, "workspace_id": "ws_other"}, headers=internal)
    assert elsewhere.status_code == 404


class TestCredentialCheckOutsideTheTransaction:
    async def test_a_workspace_change_during_the_check_does_not_repeat_the_remote_call(
        self, http: httpx.AsyncClient, registry: str, tenant: Tenant, fake_sync: FakeSync
    ) -> None:
        iid = await installed_crm(http, registry, tenant)
        other = (
            await install(http, registry, tenant, "acme-crm", connection_name="second", settings={})
        ).json()["id"]
        fake_sync.gate, fake_sync.waiting = asyncio.Event(), asyncio.Event()
        try:
            saving = asyncio.create_task(
                http.put(
                    f"{registry}/v1/installations/{iid}/secrets/api_key",
                    json={"value": "good-rotated"},
                    headers=tenant.admin,
                )
            )
            await asyncio.wait_for(fake_sync.waiting.wait(), 10)
            # Another change of the same workspace commits while sync is being asked.
            rotated = await http.post(
                f"{registry}/v1/installations/{other}/webhook/rotate", headers=tenant.admin
            )
            fake_sync.gate.set()
            saved = await saving
        finally:
            fake_sync.gate = None

        assert rotated.status_code == 200, rotated.text
        assert saved.status_code == 200, saved.text
        checks = [c for c in fake_sync.calls if c["secrets"].get("api_key") == "good-rotated"]
        assert len(checks) == 1

    async def test_a_change_of_the_installation_during_the_check_saves_nothing(
        self, http: httpx.AsyncClient, registry: str, tenant: Tenant, fake_sync: FakeSync
    ) -> None:
        iid = await installed_crm(http, registry, tenant)
        fake_sync.gate, fake_sync.waiting = asyncio.Event(), asyncio.Event()
        try:
            saving = asyncio.create_task(
                http.put(
                    f"{registry}/v1/installations/{iid}/secrets/api_key",
                    json={"value": "good-stale"},
                    headers=tenant.admin,
                )
            )
            await asyncio.wait_for(fake_sync.waiting.wait(), 10)
            await http.post(
                f"{registry}/v1/installations/{iid}/webhook/rotate", headers=tenant.admin
            )
            fake_sync.gate.set()
            refused = await saving
        finally:
            fake_sync.gate = None

        assert refused.status_code == 409, refused.text
        assert refused.json()["error"]["field"] == "api_key"
        listed = await http.get(f"{registry}/v1/installations/{iid}/secrets", headers=tenant.admin)
        assert [s["revision"] for s in listed.json() if s["name"] == "api_key"] == [1]
