"""OAuth connect is reliable: sync's reports about an older token revision never win over a
newer connect, and a connection never connected stays `not_connected`."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx

from tests.harness import Infra, serving
from tests.registry.factories import Tenant, deploy, install
from tests.registry.test_connections import FakeOAuth, oauth_connector


async def connect(http: httpx.AsyncClient, registry: str, tenant: Tenant, iid: str) -> None:
    """The admin's Connect, through the local authorization server and the callback."""
    started = (
        await http.post(f"{registry}/v1/installations/{iid}/oauth/start", headers=tenant.admin)
    ).json()
    redirect = await http.get(started["authorization_url"])
    callback = parse_qs(urlsplit(redirect.headers["location"]).query)
    done = await http.get(
        f"{registry}/v1/oauth/callback",
        params={"code": callback["code"][0], "state": callback["state"][0]},
    )
    assert done.status_code == 200 and done.json()["status"] == "connected", done.text


async def test_reports_about_an_older_token_revision_never_win_over_a_newer_connect(
    http: httpx.AsyncClient, registry: str, tenant: Tenant, infra: Infra
) -> None:
    provider = FakeOAuth()
    internal = {"authorization": f"Bearer {infra.settings().internal_token}"}
    async with serving(provider.app()) as base:
        await deploy(http, registry, tenant, oauth_connector(base))
        iid = (
            await install(
                http,
                registry,
                tenant,
                "oauth-crm",
                settings={"client_id": "cid-1", "client_secret": provider.client_secret},
            )
        ).json()["id"]
        url = f"{registry}/internal/installations/{iid}/oauth"
        status_url = f"{registry}/v1/installations/{iid}/oauth"

        async def report(status: str, revision: int) -> str:
            body = {"workspace_id": tenant.id, "status": status, "token_revision": revision}
            if status == "connected":
                body["access_token"] = "at-from-sync"
            answer = await http.post(url, json=body, headers=internal)
            assert answer.status_code == 200, answer.text
            return str((await http.get(status_url, headers=tenant.admin)).json()["status"])

        # Never connected: a failure report (sync polled without a token) changes nothing.
        assert await report("needs_reauth", 0) == "not_connected"
        # Connect, then the report sync made from the state before it arrives: ignored.
        for attempt in range(1, 4):  # repeated connects: each is a newer revision
            await connect(http, registry, tenant, iid)
            assert await report("needs_reauth", attempt - 1) == "connected"
            assert await report("connected", attempt - 1) == "connected"
        # About the current revision, a refused refresh does mark it.
        assert await report("needs_reauth", 3) == "needs_reauth"
        await connect(http, registry, tenant, iid)
        assert (await http.get(status_url, headers=tenant.admin)).json()["status"] == "connected"
