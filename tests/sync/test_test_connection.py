"""`POST /internal/test-connection`: the registry's way to try unsaved credentials."""

from __future__ import annotations

import msgspec
from litestar import Litestar, Request, Response, get

from services.sync.app import create_app
from services.sync.settings import SyncSettings
from tests.connectors.conftest import CONNECTORS
from tests.harness import serving
from tests.runtime.conftest import keyring, producer, redis  # noqa: F401 - shared fixtures
from tests.runtime.factories import deploy_directory, installation

TOKEN = {"authorization": "Bearer test-internal-token"}


@get("/v1/account", sync_to_thread=False)
def account(request: Request) -> Response:
    if request.headers.get("authorization") != "Bearer sk_test_good":
        return Response({"error": {"type": "invalid_request_error"}}, status_code=401)
    return Response({"id": "acct_1Nv0FGQ9RKHgCVdK", "business_profile": {"name": "Acme Inc."}})


async def body_for(redis, secrets: dict[str, str]) -> bytes:  # noqa: F811
    version = await deploy_directory(redis, CONNECTORS / "stripe")
    return msgspec.json.encode(
        {
            "installation": installation(version),
            "version": version,
            "settings": {"account_label": "Live"},
            "secrets": secrets,
        }
    )


async def test_connection_with_good_unsaved_key_is_ok(infra, http, redis):  # noqa: F811
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


async def test_connection_without_the_internal_token_is_401(infra, http, redis):  # noqa: F811
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


async def test_connector_without_test_connection_answers_not_ok(infra, http, redis):  # noqa: F811
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
