"""`POST /internal/test-connection`: the registry's way to try unsaved credentials."""

from __future__ import annotations

import json

import msgspec
from litestar import Litestar, Request, Response, get

from contracts.topics import EXTENSION_LOGS
from services.sync.app import create_app
from services.sync.settings import SyncSettings
from tests.connectors.conftest import CONNECTORS
from tests.harness import read_topic, serving
from tests.runtime.factories import deploy_directory, installation

TOKEN = {"authorization": "Bearer test-internal-token"}


@get("/v1/account", sync_to_thread=False)
def account(request: Request) -> Response:
    if request.headers.get("authorization") != "Bearer sk_test_good":
        return Response({"error": {"type": "invalid_request_error"}}, status_code=401)
    return Response({"id": "acct_1Nv0FGQ9RKHgCVdK", "business_profile": {"name": "Acme Inc."}})


async def body_for(redis, secrets: dict[str, str]) -> bytes:
    version = await deploy_directory(redis, CONNECTORS / "stripe")
    return msgspec.json.encode(
        {
            "installation": installation(version),
            "version": version,
            "settings": {"account_label": "Live"},
            "secrets": secrets,
        }
    )


async def test_connection_with_good_unsaved_key_is_ok(infra, http, redis):
    async with serving(Litestar([account])) as stripe:
        settings = SyncSettings(host_overrides=f"api.stripe.com={stripe}")
        async with serving(create_app(settings, infra.settings())) as sync:
            good = await http.post(
                f"{sync}/internal/test-connection",
                content=await body_for(redis, {"api_key": "sk_test_good"}),
                headers=TOKEN,
            )
            bad = await http.post(
                f"{sync}/internal/test-connection",
                content=await body_for(redis, {"api_key": "sk_test_revoked"}),
                headers=TOKEN,
            )
    assert (good.status_code, good.json()) == (
        200,
        {"ok": True, "message": "Live: connected to Acme Inc. (acct_1Nv0FGQ9RKHgCVdK)"},
    )
    assert bad.json() == {"ok": False, "message": "Stripe rejected the API key"}


async def test_connection_without_the_internal_token_is_401(infra, http, redis):
    async with serving(create_app(SyncSettings(), infra.settings())) as sync:
        missing = await http.post(
            f"{sync}/internal/test-connection", content=await body_for(redis, {})
        )
        wrong = await http.post(
            f"{sync}/internal/test-connection",
            content=await body_for(redis, {}),
            headers={"authorization": "Bearer bft_not_internal"},
        )
    assert (missing.status_code, wrong.status_code) == (401, 401)


async def test_connector_without_test_connection_answers_not_ok(infra, http, redis):
    version = await deploy_directory(redis, CONNECTORS / "standard-webhooks")
    body = msgspec.json.encode(
        {"installation": installation(version), "version": version, "settings": {}, "secrets": {}}
    )
    async with serving(create_app(SyncSettings(), infra.settings())) as sync:
        response = await http.post(f"{sync}/internal/test-connection", content=body, headers=TOKEN)
    assert response.json() == {"ok": False, "message": "this connector cannot test its connection"}


def test_malformed_host_override_stops_the_service_naming_the_variable():
    import pytest

    from services.base.settings import SettingsError

    with pytest.raises(SettingsError, match="SYNC_HOST_OVERRIDES"):
        SyncSettings(host_overrides="api.stripe.com").parsed_host_overrides()


async def test_failed_test_connection_is_logged_for_alerts_without_the_credential(
    infra,
    http,
    redis,
):
    body = await body_for(redis, {"api_key": "sk_test_revoked_9d2f"})
    installation_id = msgspec.json.decode(body)["installation"]["installation_id"]
    async with serving(Litestar([account])) as stripe:
        settings = SyncSettings(host_overrides=f"api.stripe.com={stripe}")
        async with serving(create_app(settings, infra.settings())) as sync:
            verdict = await http.post(
                f"{sync}/internal/test-connection", content=body, headers=TOKEN
            )

    def failures(lines: list) -> list:  # type: ignore[type-arg]
        return [
            line
            for line in lines
            if line.installation_id == installation_id
            and line.attrs.get("event") == "test_connection_failed"
        ]

    lines = failures(
        await read_topic(infra.bootstrap_servers, EXTENSION_LOGS, until=lambda seen: failures(seen))
    )
    assert verdict.json()["ok"] is False
    assert [(line.kind, line.level) for line in lines] == [("platform", "warn")]
    assert "Stripe rejected the API key" in lines[0].message
    assert "sk_test_revoked_9d2f" not in msgspec.json.encode(lines[0]).decode()


ECHOING_MANIFEST = {
    "key": "echoing",
    "kind": "connector",
    "name": "Echoing",
    "version": "1.0.0",
    "permissions": {"secrets": ["api_key"]},
    "connection": {
        "settingsSchema": {
            "properties": {"api_key": {"type": "string", "secret": True}},
            "required": ["api_key"],
        },
        "testConnection": True,
    },
}
ECHOING_CONNECTION = """from sdk import ConnectionResult, secrets


def test_connection(ctx):
    # Passes on what a provider that quotes the rejected key would have said.
    return ConnectionResult(ok=False, message=f"Invalid API Key provided: {secrets.get('api_key')}")
"""


async def test_a_rejected_key_the_connector_quotes_never_reaches_the_logs(
    infra,
    http,
    redis,
    tmp_path,
):
    (tmp_path / "src").mkdir()
    (tmp_path / "manifest.json").write_text(json.dumps(ECHOING_MANIFEST))
    (tmp_path / "src" / "connection.py").write_text(ECHOING_CONNECTION)
    version = await deploy_directory(redis, tmp_path)
    snapshot = installation(version)
    body = msgspec.json.encode(
        {
            "installation": snapshot,
            "version": version,
            "settings": {},
            "secrets": {"api_key": "sk_test_echoed_41c7"},
        }
    )
    async with serving(create_app(SyncSettings(), infra.settings())) as sync:
        verdict = await http.post(f"{sync}/internal/test-connection", content=body, headers=TOKEN)

    def mine(lines: list) -> list:  # type: ignore[type-arg]
        return [line for line in lines if line.installation_id == snapshot.installation_id]

    lines = mine(
        await read_topic(
            infra.bootstrap_servers,
            EXTENSION_LOGS,
            until=lambda seen: any(
                line.attrs.get("event") == "test_connection_failed" for line in mine(seen)
            ),
        )
    )
    assert verdict.json()["ok"] is False
    assert any("Invalid API Key provided: [redacted]" in line.message for line in lines)
    assert all("sk_test_echoed_41c7" not in msgspec.json.encode(line).decode() for line in lines)
