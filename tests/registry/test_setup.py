"""Connector setup through the registry: a test saves nothing, the signing secret is needed to
go live, and an OAuth connection's test runs with its access token."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import httpx

from sdk.bundle import pack
from tests.harness import serving
from tests.registry.conftest import FakeSync
from tests.registry.factories import GOOD_KEY, Tenant, install, manifest
from tests.registry.test_connections import FakeOAuth, oauth_connector
from tests.registry.test_oauth_state import connect

HANDLER = (
    "from sdk import api\n\n\ndef receive(request):\n    return 202\n\n\nPOST = api(receive)\n"
)
CHECK = "def test_connection(ctx):\n    return True\n"


def signed_connector() -> dict[str, Any]:
    return manifest(
        "signed-crm",
        kind="connector",
        secrets=["api_key", "webhook_secret"],
        connection={
            "settingsSchema": {
                "properties": {
                    "api_key": {"type": "string", "secret": True, "title": "API key"},
                    "webhook_secret": {"type": "string", "secret": True},
                },
                "required": ["api_key"],
            },
            "testConnection": True,
        },
        webhooks={"endpoint": "/webhooks/inbound", "auth": "standard_webhooks"},
        pages=[],
        ui=[],
    )


PAGE = "def render(ctx):\n    return []\n"


def archive(data: dict[str, Any], files: dict[str, str]) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "manifest.json").write_text(json.dumps(data))
        for name, text in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text)
        return pack(root)[0]


async def deploy_signed(http: httpx.AsyncClient, registry: str, tenant: Tenant) -> None:
    files = {"src/api/webhooks/inbound.py": HANDLER, "src/connection.py": CHECK}
    answer = await http.post(
        f"{registry}/v1/extensions/signed-crm/versions",
        content=archive(signed_connector(), files),
        headers={**tenant.admin, "content-type": "application/gzip"},
    )
    assert answer.status_code == 201, answer.text


async def test_a_connector_is_not_live_on_install_without_its_signing_secret(
    http: httpx.AsyncClient, registry: str, tenant: Tenant
) -> None:
    await deploy_signed(http, registry, tenant)
    created = await install(http, registry, tenant, "signed-crm", settings={"api_key": GOOD_KEY})
    assert created.status_code == 201, created.text
    assert created.json()["state"] == "pending"
    assert created.json()["missing_settings"] == ["webhook_secret"]
    iid = created.json()["id"]
    put = await http.put(
        f"{registry}/v1/installations/{iid}/secrets/webhook_secret",
        json={"value": "whsec_1"},
        headers=tenant.admin,
    )
    assert put.status_code == 200, put.text
    after = (await http.get(f"{registry}/v1/installations/{iid}", headers=tenant.admin)).json()
    assert after["state"] == "active" and after["missing_settings"] == []


async def test_testing_typed_settings_saves_nothing_pass_or_fail(
    http: httpx.AsyncClient, registry: str, tenant: Tenant, fake_sync: FakeSync
) -> None:
    await deploy_signed(http, registry, tenant)
    iid = (await install(http, registry, tenant, "signed-crm")).json()["id"]
    url = f"{registry}/v1/installations/{iid}"
    for key, ok in (("bad-key", False), (GOOD_KEY, True)):
        body = {"settings": {"api_key": key, "webhook_secret": "whsec_typed"}}
        answer = await http.post(f"{url}/test-connection", json=body, headers=tenant.admin)
        assert answer.status_code == 200 and answer.json()["ok"] is ok, answer.text
        assert fake_sync.calls[-1]["secrets"]["api_key"] == key
        stored = (await http.get(url, headers=tenant.admin)).json()
        assert (stored["state"], stored["secrets"]) == ("pending", [])
    refused = await http.post(
        f"{url}/test-connection", json={"settings": {"nope": 1}}, headers=tenant.admin
    )
    assert refused.status_code == 400 and refused.json()["error"]["field"] == "settings.nope"


async def test_an_oauth_connections_test_runs_with_its_access_token(
    http: httpx.AsyncClient, registry: str, tenant: Tenant, fake_sync: FakeSync
) -> None:
    provider = FakeOAuth()
    async with serving(provider.app()) as base:
        data = oauth_connector(base)
        data["connection"]["testConnection"] = True
        answer = await http.post(
            f"{registry}/v1/extensions/oauth-crm/versions",
            content=archive(
                data,  # the factory's manifest declares an `overview` page: ship its file
                {"src/connection.py": CHECK, "main.py": "", "src/pages/overview.py": PAGE},
            ),
            headers={**tenant.admin, "content-type": "application/gzip"},
        )
        assert answer.status_code == 201, answer.text
        settings = {"client_id": "cid-1", "client_secret": provider.client_secret}
        iid = (await install(http, registry, tenant, "oauth-crm", settings=settings)).json()["id"]
        await connect(http, registry, tenant, iid)
        tested = await http.post(
            f"{registry}/v1/installations/{iid}/test-connection", headers=tenant.admin
        )
        assert tested.status_code == 200, tested.text
    assert fake_sync.calls[-1]["secrets"]["access_token"].startswith("at-")
