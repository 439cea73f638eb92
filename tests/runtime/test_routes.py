"""Route and webhook invocations: responses, logs on the topic, raising handlers, time limits."""

from __future__ import annotations

import asyncio
import time

import msgspec
from redis.asyncio import Redis

from contracts.logs import ExtensionLogLine
from contracts.topics import EXTENSION_LOGS
from services.base.kafka import create_producer
from services.base.secrets_crypto import Keyring
from tests.harness import embedded_infra, read_topic
from tests.runtime.conftest import make_runtime
from tests.runtime.factories import BUNDLES, deploy_directory, installation, webhook


def body(**fields: object) -> bytes:
    return msgspec.json.encode(fields)


async def lines_of(infra, invocation_id: str, count: int) -> list[ExtensionLogLine]:
    seen = await read_topic(
        infra.bootstrap_servers,
        EXTENSION_LOGS,
        until=lambda msgs: sum(m.invocation_id == invocation_id for m in msgs) >= count,
    )
    return [m for m in seen if m.invocation_id == invocation_id]


async def test_webhook_handler_answers_with_its_json_response(infra, redis, keyring, producer):
    runtime = make_runtime(redis, keyring, producer)
    version = await deploy_directory(redis, BUNDLES / "probe")
    result = await runtime.invoke(webhook(installation(version), body(action="echo")))
    assert result.outcome == "ok"
    assert result.response is not None
    assert (result.response.status, result.response.body) == (202, {"action": "echo"})
    await runtime.close()


async def test_every_log_call_reaches_the_logs_topic_with_its_context(
    infra, redis, keyring, producer
):
    runtime = make_runtime(redis, keyring, producer)
    version = await deploy_directory(redis, BUNDLES / "probe")
    snapshot = installation(version)
    invocation = webhook(snapshot, body(action="log"))
    await runtime.invoke(invocation)
    lines = await lines_of(infra, invocation.invocation_id, 4)
    assert [(x.level, x.message) for x in lines] == [
        ("debug", "debugging"),
        ("info", "hello from probe"),
        ("warn", "careful"),
        ("error", "something broke"),
    ]
    info = lines[1]
    assert info.attrs == {"region": "eu"}  # the schema default of the `region` setting
    assert info.kind == "log"
    assert info.script_type == "route"
    assert info.script_name == "src/api/webhooks/probe.py"
    assert info.route == "/webhooks/probe"
    assert info.installation_id == snapshot.installation_id
    assert info.workspace_id == snapshot.workspace_id
    assert info.version_id == version.version_id
    assert info.extension_key == "probe"
    await runtime.close()


async def test_handler_that_raises_is_logged_with_traceback_and_answers_a_clean_error(
    infra, redis, keyring, producer
):
    runtime = make_runtime(redis, keyring, producer)
    version = await deploy_directory(redis, BUNDLES / "probe")
    invocation = webhook(installation(version), body(action="raise"))
    result = await runtime.invoke(invocation)
    assert result.outcome == "error"
    assert result.error == "ValueError: the probe exploded"
    assert result.response is None
    [line] = await lines_of(infra, invocation.invocation_id, 1)
    assert (line.level, line.kind) == ("error", "error")
    assert "Traceback" in line.attrs["traceback"]
    assert 'raise ValueError("the probe exploded")' in line.attrs["traceback"]
    await runtime.close()


async def test_invocation_over_its_time_limit_is_cut_off_with_outcome_timeout(
    infra, redis, keyring, producer
):
    runtime = make_runtime(redis, keyring, producer, time_limit_s=0.3)
    version = await deploy_directory(redis, BUNDLES / "probe")
    invocation = webhook(installation(version), body(action="sleep"))
    result = await runtime.invoke(invocation)
    assert result.outcome == "timeout"
    assert result.error == "time limit of 0.3s exceeded"
    [line] = await lines_of(infra, invocation.invocation_id, 1)
    assert line.kind == "error" and "time limit" in line.message
    await runtime.close()


async def test_missing_bundle_is_an_error_outcome_naming_the_digest(
    infra, redis, keyring, producer
):
    runtime = make_runtime(redis, keyring, producer)
    version = await deploy_directory(redis, BUNDLES / "probe")
    gone = msgspec.structs.replace(version, digest="sha256:" + "0" * 64)
    result = await runtime.invoke(webhook(installation(gone), body(action="echo")))
    assert result.outcome == "error"
    assert result.error == f"no bundle stored for sha256:{'0' * 64}"
    await runtime.close()


async def test_path_without_a_route_file_is_not_found(infra, redis, keyring, producer):
    runtime = make_runtime(redis, keyring, producer)
    version = await deploy_directory(redis, BUNDLES / "probe")
    result = await runtime.invoke(webhook(installation(version), body(), entry="/webhooks/nowhere"))
    assert result.outcome == "not_found"
    assert "src/api/webhooks/nowhere.py" in (result.error or "")
    await runtime.close()


async def test_log_lines_the_broker_never_acknowledges_are_counted_without_holding_invoke():
    # A private broker, because this test freezes it.
    with embedded_infra() as private:
        redis = Redis.from_url(private.redis_url)
        producer = create_producer(private.settings(), "runtime-frozen", request_timeout_ms=1_000)
        await producer.start()
        runtime = make_runtime(redis, Keyring.parse(private.keyring), producer)
        try:
            version = await deploy_directory(redis, BUNDLES / "probe")
            snapshot = installation(version)
            await runtime.invoke(webhook(snapshot, body(action="log")))  # metadata is known
            await producer.flush()
            assert private.broker is not None
            private.broker.pause()
            try:
                result = await runtime.invoke(webhook(snapshot, body(action="log")))
                assert result.outcome == "ok"
                deadline = time.monotonic() + 30
                while runtime.log_lines_failed < 4 and time.monotonic() < deadline:
                    await asyncio.sleep(0.1)
                assert runtime.log_lines_failed == 4
            finally:
                private.broker.resume()
        finally:
            await producer.stop()
            await runtime.close()
            await redis.aclose()
