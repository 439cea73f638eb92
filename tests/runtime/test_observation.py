"""Observation and draft versions: ingest is intercepted, recorded, and never emitted."""

from __future__ import annotations

import msgspec

from contracts.topics import EXTENSION_LOGS, OBSERVED_RECORDS
from tests.harness import read_topic
from tests.runtime.conftest import make_runtime
from tests.runtime.factories import BUNDLES, deploy_directory, installation, webhook


async def test_observed_version_writes_go_to_the_observed_topic_and_logs_not_emissions(
    infra, redis, keyring, producer
):
    runtime = make_runtime(redis, keyring, producer)
    version = await deploy_directory(redis, BUNDLES / "probe")
    invocation = webhook(
        installation(version),
        msgspec.json.encode({"action": "ingest", "id": "t_obs"}),
        mode="observe",
    )
    result = await runtime.invoke(invocation)
    assert result.outcome == "ok"
    assert result.emissions == []
    assert result.observed == 1
    assert result.response is not None
    assert result.response.body["result"]["status"] == "observed"

    observed = await read_topic(
        infra.bootstrap_servers,
        OBSERVED_RECORDS,
        until=lambda msgs: any(m.idempotency_key == "probe:t_obs" for m in msgs),
    )
    [record] = [m for m in observed if m.idempotency_key == "probe:t_obs"]
    assert (record.mode, record.canonical_type, record.source) == ("observe", "ticket", "webhook")
    assert record.version_id == version.version_id
    assert record.source_id == invocation.source_id

    lines = await read_topic(
        infra.bootstrap_servers,
        EXTENSION_LOGS,
        until=lambda msgs: any(m.invocation_id == invocation.invocation_id for m in msgs),
    )
    [line] = [m for m in lines if m.invocation_id == invocation.invocation_id]
    assert (line.kind, line.entity) == ("would_write", "ticket")
    assert line.attrs["idempotency_key"] == "probe:t_obs"
    await runtime.close()


async def test_draft_version_is_intercepted_like_an_observation(infra, redis, keyring, producer):
    runtime = make_runtime(redis, keyring, producer)
    version = await deploy_directory(redis, BUNDLES / "probe")
    invocation = webhook(
        installation(version),
        msgspec.json.encode({"action": "ingest", "id": "t_draft"}),
        mode="draft",
    )
    result = await runtime.invoke(invocation)
    assert (result.emissions, result.observed) == ([], 1)
    observed = await read_topic(
        infra.bootstrap_servers,
        OBSERVED_RECORDS,
        until=lambda msgs: any(m.idempotency_key == "probe:t_draft" for m in msgs),
    )
    assert [m.mode for m in observed if m.idempotency_key == "probe:t_draft"] == ["draft"]
    await runtime.close()
