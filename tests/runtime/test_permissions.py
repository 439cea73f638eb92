"""No allow-by-default: every undeclared host, secret and entity is denied, logged, and raised."""

from __future__ import annotations

import asyncio

import msgspec
from litestar import Litestar, get

from contracts.logs import ExtensionLogLine
from contracts.topics import EXTENSION_LOGS
from tests.harness import read_topic, serving
from tests.runtime.conftest import make_runtime
from tests.runtime.factories import BUNDLES, deploy_directory, installation, webhook


def body(**fields: object) -> bytes:
    return msgspec.json.encode(fields)


async def denial_of(infra, invocation_id: str) -> ExtensionLogLine:
    seen = await read_topic(
        infra.bootstrap_servers,
        EXTENSION_LOGS,
        until=lambda msgs: any(
            m.invocation_id == invocation_id and m.kind == "denial" for m in msgs
        ),
    )
    [line] = [m for m in seen if m.invocation_id == invocation_id and m.kind == "denial"]
    return line


@get("/v1/ping", sync_to_thread=False)
def ping() -> dict[str, str]:
    return {"pong": "yes"}


async def test_request_to_undeclared_host_is_denied_and_logged(infra, redis, keyring, producer):
    runtime = make_runtime(redis, keyring, producer)
    version = await deploy_directory(redis, BUNDLES / "probe")
    invocation = webhook(
        installation(version), body(action="http", url="https://api.stripe.com/v1/charges")
    )
    result = await runtime.invoke(invocation)
    assert result.outcome == "denied"
    assert result.error == "http 'api.stripe.com' denied: host not declared in permissions.http"
    line = await denial_of(infra, invocation.invocation_id)
    assert line.level == "warn"
    assert line.attrs == {
        "capability": "http",
        "target": "api.stripe.com",
        "reason": "host not declared in permissions.http",
    }
    await runtime.close()


async def test_plain_http_to_a_declared_host_is_denied(infra, redis, keyring, producer):
    runtime = make_runtime(redis, keyring, producer)
    version = await deploy_directory(redis, BUNDLES / "probe")
    invocation = webhook(
        installation(version), body(action="http", url="http://api.probe.example/v1/ping")
    )
    result = await runtime.invoke(invocation)
    assert result.outcome == "denied"
    line = await denial_of(infra, invocation.invocation_id)
    assert line.attrs["reason"] == "only https:// URLs are allowed"
    await runtime.close()


async def test_declared_host_is_reached_through_its_local_override(infra, redis, keyring, producer):
    async with serving(Litestar([ping])) as provider:
        runtime = make_runtime(
            redis, keyring, producer, host_overrides={"api.probe.example": provider}
        )
        version = await deploy_directory(redis, BUNDLES / "probe")
        result = await runtime.invoke(
            webhook(
                installation(version), body(action="http", url="https://api.probe.example/v1/ping")
            )
        )
        await runtime.close()
    assert result.outcome == "ok"
    assert result.response is not None
    assert result.response.body == {"status": 200, "body": {"pong": "yes"}}


async def test_override_does_not_open_an_undeclared_host(infra, redis, keyring, producer):
    async with serving(Litestar([ping])) as provider:
        runtime = make_runtime(
            redis, keyring, producer, host_overrides={"evil.example.com": provider}
        )
        version = await deploy_directory(redis, BUNDLES / "probe")
        result = await runtime.invoke(
            webhook(
                installation(version), body(action="http", url="https://evil.example.com/v1/ping")
            )
        )
        await runtime.close()
    assert result.outcome == "denied"


async def test_undeclared_secret_is_denied_and_logged(infra, redis, keyring, producer):
    runtime = make_runtime(redis, keyring, producer)
    version = await deploy_directory(redis, BUNDLES / "probe")
    invocation = webhook(installation(version), body(action="undeclared_secret"))
    result = await runtime.invoke(invocation)
    assert result.outcome == "denied"
    line = await denial_of(infra, invocation.invocation_id)
    assert line.attrs["capability"] == "secret"
    assert line.attrs["target"] == "database_password"
    await runtime.close()


async def test_declared_secret_is_opened_and_redacted_from_log_lines(
    infra, redis, keyring, producer
):
    runtime = make_runtime(redis, keyring, producer)
    version = await deploy_directory(redis, BUNDLES / "probe")
    snapshot = installation(version, keyring=keyring, secrets={"api_key": "sk_test_51Hx9Qd"})
    invocation = webhook(snapshot, body(action="secret"))
    result = await runtime.invoke(invocation)
    assert result.outcome == "ok"
    assert result.response is not None and result.response.body == {"length": 15}
    seen = await read_topic(
        infra.bootstrap_servers,
        EXTENSION_LOGS,
        until=lambda msgs: any(m.invocation_id == invocation.invocation_id for m in msgs),
    )
    [line] = [m for m in seen if m.invocation_id == invocation.invocation_id]
    assert line.message == "using key [redacted]"
    await runtime.close()


async def test_an_error_quoting_a_secret_is_redacted_in_the_result_and_its_log_line(
    infra, redis, keyring, producer
):
    runtime = make_runtime(redis, keyring, producer)
    version = await deploy_directory(redis, BUNDLES / "probe")
    snapshot = installation(version, keyring=keyring, secrets={"api_key": "sk_test_77Qp2z"})
    invocation = webhook(snapshot, body(action="raise_with_secret"))
    result = await runtime.invoke(invocation)
    assert result.outcome == "error"
    assert result.error == "ValueError: the provider refused key [redacted]"
    seen = await read_topic(
        infra.bootstrap_servers,
        EXTENSION_LOGS,
        until=lambda msgs: any(m.invocation_id == invocation.invocation_id for m in msgs),
    )
    lines = [m for m in seen if m.invocation_id == invocation.invocation_id]
    assert all("sk_test_77Qp2z" not in EXTENSION_LOGS.encode(m).decode() for m in lines)
    await runtime.close()


async def test_ingest_into_undeclared_entity_is_denied_and_logged(infra, redis, keyring, producer):
    runtime = make_runtime(redis, keyring, producer)
    version = await deploy_directory(redis, BUNDLES / "probe")
    invocation = webhook(installation(version), body(action="undeclared_entity"))
    result = await runtime.invoke(invocation)
    assert result.outcome == "denied"
    assert result.emissions == []
    line = await denial_of(infra, invocation.invocation_id)
    assert (line.entity, line.attrs["capability"]) == ("invoice", "ingest")
    await runtime.close()


async def test_ingest_into_entity_declared_read_only_is_denied(infra, redis, keyring, producer):
    runtime = make_runtime(redis, keyring, producer)
    version = await deploy_directory(redis, BUNDLES / "probe")
    invocation = webhook(installation(version), body(action="read_only_entity"))
    result = await runtime.invoke(invocation)
    assert result.outcome == "denied"
    line = await denial_of(infra, invocation.invocation_id)
    assert line.attrs["reason"] == "entity type is not declared writable"
    await runtime.close()


async def test_ingest_into_write_protected_entity_is_denied_and_logged(
    infra, redis, keyring, producer
):
    runtime = make_runtime(redis, keyring, producer)
    version = await deploy_directory(redis, BUNDLES / "probe")
    snapshot = installation(version, write_protected=["ticket"])
    invocation = webhook(snapshot, body(action="write_protected"))
    result = await runtime.invoke(invocation)
    assert result.outcome == "denied"
    assert result.emissions == []
    line = await denial_of(infra, invocation.invocation_id)
    assert line.attrs["reason"] == "entity type is write-protected in this workspace"
    await runtime.close()


async def test_denial_caught_by_the_code_is_still_logged(infra, redis, keyring, producer):
    runtime = make_runtime(redis, keyring, producer)
    version = await deploy_directory(redis, BUNDLES / "probe")
    invocation = webhook(installation(version), body(action="caught_denial"))
    result = await runtime.invoke(invocation)
    assert result.outcome == "ok"
    assert result.response is not None
    assert result.response.body == {"caught": "PermissionDenied"}
    line = await denial_of(infra, invocation.invocation_id)
    assert line.attrs["target"] == "evil.example.com"
    await runtime.close()


async def test_declared_writable_entity_becomes_an_emission(infra, redis, keyring, producer):
    runtime = make_runtime(redis, keyring, producer)
    version = await deploy_directory(redis, BUNDLES / "probe")
    result = await runtime.invoke(webhook(installation(version), body(action="ingest", id="t_1")))
    assert result.outcome == "ok"
    [emission] = result.emissions
    assert (emission.canonical_type, emission.idempotency_key) == ("ticket", "probe:t_1")
    assert emission.payload == {"id": "t_1", "title": "Printer on fire"}
    await runtime.close()


async def test_pipelined_invocations_of_one_installation_each_get_their_own_answers(
    redis, keyring, producer
):
    """Invocations queued on a worker while another waits for a capability answer (a secret)
    run after it, in order; none takes another's answer."""
    runtime = make_runtime(redis, keyring, producer, workers=1)
    version = await deploy_directory(redis, BUNDLES / "probe")
    snapshot = installation(version, keyring=keyring, secrets={"api_key": "sk_test_51Hx9Qd"})
    invocations = [webhook(snapshot, body(action="secret")) for _ in range(8)]
    results = await asyncio.gather(*(runtime.invoke(i) for i in invocations))
    assert [(r.outcome, r.error) for r in results] == [("ok", None)] * 8
    assert all(r.response is not None and r.response.body == {"length": 15} for r in results)
    await runtime.close()
