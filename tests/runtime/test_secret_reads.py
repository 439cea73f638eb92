"""The secret-read audit on runtime.secret-reads.v1: who read which name, never the value."""

from __future__ import annotations

import msgspec

from contracts.topics import SECRET_READS
from tests.harness import read_topic
from tests.runtime.conftest import make_runtime
from tests.runtime.factories import BUNDLES, deploy_directory, installation, webhook

VALUE = "sk_live_never_on_the_topic"
READ = msgspec.json.encode({"action": "secret"})


async def reads_of(infra, installation_id: str, count: int) -> list:
    seen = await read_topic(
        infra.bootstrap_servers,
        SECRET_READS,
        raw=True,
        until=lambda msgs: (
            sum(SECRET_READS.decode(m.value).installation_id == installation_id for m in msgs)
            >= count
        ),
    )
    assert all(VALUE.encode() not in m.value for m in seen)
    return [
        r
        for r in (SECRET_READS.decode(m.value) for m in seen)
        if r.installation_id == installation_id
    ]


async def test_repeated_reads_are_published_once_per_interval(infra, redis, keyring, producer):
    runtime = make_runtime(redis, keyring, producer, secret_read_interval_s=3600)
    version = await deploy_directory(redis, BUNDLES / "probe")
    snapshot = installation(version, keyring=keyring, secrets={"api_key": VALUE})
    for _ in range(3):
        assert (await runtime.invoke(webhook(snapshot, READ))).outcome == "ok"
    await producer.flush()
    [read] = await reads_of(infra, snapshot.installation_id, 1)
    assert (read.secret_name, read.script_name, read.version_id, read.mode) == (
        "api_key",
        "src/api/webhooks/probe.py",
        version.version_id,
        "active",
    )
    assert read.workspace_id == snapshot.workspace_id and read.reads == 1
    await runtime.close()


async def test_reads_after_the_interval_are_published_again_with_their_count(
    infra, redis, keyring, producer
):
    runtime = make_runtime(redis, keyring, producer, secret_read_interval_s=0)
    version = await deploy_directory(redis, BUNDLES / "probe")
    snapshot = installation(version, keyring=keyring, secrets={"api_key": VALUE})
    for _ in range(3):
        assert (await runtime.invoke(webhook(snapshot, READ))).outcome == "ok"
    reads = await reads_of(infra, snapshot.installation_id, 3)
    assert sorted(r.reads for r in reads) == [1, 2, 3]
    assert len({r.first_read_at for r in reads}) == 1
    await runtime.close()


async def test_a_denied_secret_is_not_counted_as_read(infra, redis, keyring, producer):
    runtime = make_runtime(redis, keyring, producer, secret_read_interval_s=0)
    version = await deploy_directory(redis, BUNDLES / "probe")
    snapshot = installation(version, keyring=keyring, secrets={"api_key": VALUE})
    denied = webhook(snapshot, msgspec.json.encode({"action": "undeclared_secret"}))
    assert (await runtime.invoke(denied)).outcome == "denied"
    assert (await runtime.invoke(webhook(snapshot, READ))).outcome == "ok"
    [read] = await reads_of(infra, snapshot.installation_id, 1)
    assert read.secret_name == "api_key"
    await runtime.close()
