"""Test connection: unsaved credentials are tried against the provider through the runtime."""

from __future__ import annotations

from litestar import Litestar, Request, Response, get

from tests.harness import serving
from tests.runtime.conftest import make_runtime
from tests.runtime.factories import BUNDLES, call, deploy_directory, installation


@get("/v1/account", sync_to_thread=False)
def account(request: Request) -> Response:
    if request.headers.get("authorization") != "Bearer pk_good":
        return Response({"error": "invalid api key"}, status_code=401)
    return Response({"name": "Acme Support"})


async def test_unsaved_good_credentials_pass(infra, redis, keyring, producer):
    async with serving(Litestar([account])) as provider:
        runtime = make_runtime(
            redis, keyring, producer, host_overrides={"api.probe.example": provider}
        )
        snapshot = installation(await deploy_directory(redis, BUNDLES / "probe"))
        result = await runtime.invoke(
            call(snapshot, "test_connection", "test_connection", secrets={"api_key": "pk_good"})
        )
        await runtime.close()
    assert result.outcome == "ok"
    assert result.response is not None
    assert result.response.body == {"ok": True, "message": "connected to Acme Support"}


async def test_saved_bad_credentials_fail_with_the_providers_answer(
    infra, redis, keyring, producer
):
    async with serving(Litestar([account])) as provider:
        runtime = make_runtime(
            redis, keyring, producer, host_overrides={"api.probe.example": provider}
        )
        version = await deploy_directory(redis, BUNDLES / "probe")
        snapshot = installation(version, keyring=keyring, secrets={"api_key": "pk_revoked"})
        result = await runtime.invoke(call(snapshot, "test_connection", "test_connection"))
        await runtime.close()
    assert result.response is not None
    assert result.response.body == {"ok": False, "message": "provider answered 401"}
