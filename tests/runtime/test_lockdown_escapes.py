"""Round 2 of the hostile extension: other processes, host file metadata, outliving and
outgrowing an invocation, unbounded lines and records, what the worker is sent.

Each attack runs through a deployed private bundle on the default (isolated) runtime; each
one succeeded before the worker got its own PID namespace, unprivileged id, private mount
view, seccomp allow-list and process limits (docs/isolation.md).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import msgspec
import pytest

from contracts.logs import ExtensionLogLine
from contracts.secrets import SecretEntry
from contracts.topics import EXTENSION_LOGS
from tests.harness import read_topic
from tests.runtime.conftest import make_runtime
from tests.runtime.factories import BUNDLES, deploy_directory, installation
from tests.runtime.test_isolation import assert_contained, attack


async def lines_of(infra, invocation_id: str, until_kind: str) -> list[ExtensionLogLine]:
    seen = await read_topic(
        infra.bootstrap_servers,
        EXTENSION_LOGS,
        until=lambda msgs: any(
            m.invocation_id == invocation_id and m.kind == until_kind for m in msgs
        ),
    )
    return [m for m in seen if m.invocation_id == invocation_id]


async def test_no_other_process_can_be_seen_or_rescheduled(infra, hostile):
    runtime, snapshot = hostile
    me = os.getpid()
    before = (os.getpriority(os.PRIO_PROCESS, me), os.sched_getaffinity(me))
    await assert_contained(infra, runtime, snapshot, "list_pids", "No such file or directory")
    for name in ("renice", "pin_cpu", "pidfd"):
        await assert_contained(infra, runtime, snapshot, name, "Operation not permitted", pid=me)
    # pid 1 of its own namespace is the worker itself: its own scheduling, no one else's
    assert (os.getpriority(os.PRIO_PROCESS, me), os.sched_getaffinity(me)) == before


async def test_host_file_metadata_is_out_of_reach(infra, hostile, tmp_path: Path):
    runtime, snapshot = hostile
    target = tmp_path / "owned-by-the-suite.txt"
    target.write_text("x")
    os.chmod(target, 0o600)
    before = os.stat(target)
    # metadata calls are not on the allow-list; and the file does not exist for the worker
    for name in ("chmod_host_file", "touch_host_file", "read_xattr"):
        await assert_contained(
            infra, runtime, snapshot, name, "Operation not permitted", path=str(target)
        )
    await assert_contained(
        infra, runtime, snapshot, "stat_host_file", "No such file or directory", path=str(target)
    )
    # the worker's own library files exist for it, read-only and not its own
    library = os.path.dirname(os.__file__) + "/json/__init__.py"
    await assert_contained(
        infra, runtime, snapshot, "chmod_host_file", "Operation not permitted", path=library
    )
    await assert_contained(infra, runtime, snapshot, "watch_dir", "Operation not permitted")
    after = os.stat(target)
    assert (after.st_mode, after.st_mtime) == (before.st_mode, before.st_mtime)


async def test_a_thread_left_running_does_not_survive_into_the_next_invocation(hostile):
    runtime, snapshot = hostile
    left = await runtime.invoke(attack(snapshot, "leave_thread"))
    assert left.outcome == "ok"
    after = await runtime.invoke(attack(snapshot, "threads_now"))
    assert after.response is not None and after.response.body == {"got": 1}


async def test_memory_cannot_hide_in_a_memfd(infra, hostile):
    runtime, snapshot = hostile
    await assert_contained(
        infra, runtime, snapshot, "memfd_hoard", "Operation not permitted", mb=768
    )


async def test_scratch_has_a_quota(infra, hostile):
    runtime, snapshot = hostile
    await assert_contained(
        infra, runtime, snapshot, "fill_scratch", "No space left on device", mb=256
    )


async def test_thread_count_is_limited(infra, hostile):
    runtime, snapshot = hostile
    await assert_contained(
        infra, runtime, snapshot, "many_threads", "can't start new thread", count=2_000
    )


async def test_denial_lines_count_against_the_line_cap(infra, redis, keyring, producer):
    runtime = make_runtime(redis, keyring, producer, max_log_lines=50)
    snapshot = installation(await deploy_directory(redis, BUNDLES / "hostile"))
    invocation = attack(snapshot, "deny_flood", times=400)
    result = await runtime.invoke(invocation)
    await runtime.close()
    assert result.outcome == "ok"
    lines = await lines_of(infra, invocation.invocation_id, "platform")
    assert len([m for m in lines if m.kind == "denial"]) == 50
    assert len(lines) == 51


async def test_every_field_of_a_line_is_capped(infra, hostile):
    runtime, snapshot = hostile
    invocation = attack(snapshot, "long_fields", size=20_000)
    assert (await runtime.invoke(invocation)).outcome == "ok"
    [line] = [m for m in await lines_of(infra, invocation.invocation_id, "log") if m.kind == "log"]
    assert (len(line.message), len(line.entity or ""), len(line.event or "")) == (8_192, 256, 256)


async def test_records_per_invocation_are_bounded(infra, hostile):
    runtime, snapshot = hostile
    runtime.max_records = 20
    invocation = attack(snapshot, "ingest_flood", records=25)
    result = await runtime.invoke(invocation)
    assert result.outcome == "denied", result
    assert result.emissions == []  # a denied invocation publishes nothing
    lines = await lines_of(infra, invocation.invocation_id, "denial")
    assert "record limit of 20 reached" in next(m for m in lines if m.kind == "denial").message


async def test_rotating_secrets_never_reach_the_worker(hostile, keyring):
    runtime, snapshot = hostile
    sealed = installation(snapshot.active, keyring=keyring, secrets={"api_key": "current"})
    entry: SecretEntry = sealed.secrets["api_key"]
    rotated = msgspec.structs.replace(
        sealed, secrets={}, rotating_secrets={"api_key": entry}, updated_at=time.time()
    )
    found = await runtime.invoke(attack(rotated, "sealed_values"))
    assert found.response is not None and found.response.body == {"got": 0}


async def test_a_tree_too_deep_to_recurse_left_at_exit_harms_no_one(hostile):
    runtime, snapshot = hostile
    other = installation(snapshot.active, workspace_id="ws_other")
    assert (await runtime.invoke(attack(other, "ok"))).outcome == "ok"  # a warm worker
    zygote = runtime.pool.zygote
    exited = await runtime.invoke(attack(snapshot, "deep_tree_exit", depth=1_500))
    assert exited.outcome == "error"
    for tenant in (other, snapshot, installation(snapshot.active, workspace_id="ws_third")):
        assert (await runtime.invoke(attack(tenant, "ok"))).outcome == "ok"
    assert runtime.pool.zygote is zygote and zygote is not None and zygote.poll() is None
    assert runtime.pool.ready


@pytest.mark.parametrize(
    ("url", "target", "reason"),
    [
        ("https://api.probe.example:6379/", "api.probe.example:6379", "port not declared"),
        ("https://xn--zz.api.probe.example/", "https://xn--zz.api.probe.example/", "not a valid"),
        ("https://127.0.0.1/", "127.0.0.1", "an IP address is not allowed"),
        ("https://localhost/", "localhost", "localhost is not allowed"),
    ],
)
async def test_outbound_http_is_denied_inside_the_network(
    infra, hostile, url: str, target: str, reason: str
):
    runtime, snapshot = hostile
    invocation = attack(snapshot, "http_get", url=url)
    result = await runtime.invoke(invocation)
    assert result.outcome == "denied", result
    [denial] = [m for m in await lines_of(infra, invocation.invocation_id, "denial")]
    assert denial.attrs["target"] == target and reason in denial.attrs["reason"]
