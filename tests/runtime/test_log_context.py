"""Every line the runtime records carries the version's mode and, for drafts, the dev session."""

from __future__ import annotations

import msgspec

from contracts.topics import EXTENSION_LOGS
from runtime.interface import Invocation
from tests.harness import read_topic
from tests.runtime.conftest import make_runtime
from tests.runtime.factories import BUNDLES, deploy_directory, installation, webhook


async def lines_of(infra, invocation: Invocation, count: int) -> list:
    seen = await read_topic(
        infra.bootstrap_servers,
        EXTENSION_LOGS,
        until=lambda msgs: sum(m.invocation_id == invocation.invocation_id for m in msgs) >= count,
    )
    return [m for m in seen if m.invocation_id == invocation.invocation_id]


async def test_draft_lines_carry_mode_and_session(infra, redis, keyring, producer):
    runtime = make_runtime(redis, keyring, producer)
    version = await deploy_directory(redis, BUNDLES / "probe")
    snapshot = installation(version)
    invocation = msgspec.structs.replace(
        webhook(snapshot, msgspec.json.encode({"action": "log"}), mode="draft"),
        session_id="dev_session_1",
    )
    assert (await runtime.invoke(invocation)).outcome == "ok"
    lines = await lines_of(infra, invocation, 4)
    assert {(line.mode, line.session_id) for line in lines} == {("draft", "dev_session_1")}
    await runtime.close()


async def test_observe_denials_and_would_writes_carry_the_mode(infra, redis, keyring, producer):
    runtime = make_runtime(redis, keyring, producer)
    version = await deploy_directory(redis, BUNDLES / "probe")
    snapshot = installation(version)
    wrote = webhook(snapshot, msgspec.json.encode({"action": "ingest", "id": "t1"}), mode="observe")
    denied = webhook(snapshot, msgspec.json.encode({"action": "undeclared_entity"}), mode="observe")
    assert (await runtime.invoke(wrote)).outcome == "ok"
    assert (await runtime.invoke(denied)).outcome == "denied"
    [would_write] = await lines_of(infra, wrote, 1)
    [denial] = await lines_of(infra, denied, 1)
    assert (would_write.kind, would_write.mode, would_write.session_id) == (
        "would_write",
        "observe",
        None,
    )
    assert (denial.kind, denial.mode) == ("denial", "observe")
    await runtime.close()
