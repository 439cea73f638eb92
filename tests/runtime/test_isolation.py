"""A hostile extension finds nothing around the SDK: every attack is contained and logged.

Each test runs one attack through the default (isolated) runtime, checks that it failed, that
the failure is in the extension's logs (an error line with the reason), that nothing leaked
into the response, and that the runtime still serves the next invocation.
"""

from __future__ import annotations

import asyncio
import os
import sysconfig
from pathlib import Path
from urllib.parse import urlparse

import msgspec
import pytest

from contracts.logs import ExtensionLogLine
from contracts.topics import EXTENSION_LOGS
from runtime.isolated.invoker import IsolatedRuntime
from runtime.loader import package_of
from tests.harness import read_topic
from tests.runtime.conftest import make_runtime
from tests.runtime.factories import BUNDLES, deploy_directory, installation, webhook

CANARY = "canary-value-the-worker-must-never-see"


@pytest.fixture(scope="module")
def canary():
    """A variable of the service process, set before any worker exists."""
    os.environ["BACKFILL_ISOLATION_CANARY"] = CANARY
    yield "BACKFILL_ISOLATION_CANARY"
    os.environ.pop("BACKFILL_ISOLATION_CANARY", None)


def attack(snapshot, attack_name: str, **fields: object):
    return webhook(snapshot, msgspec.json.encode({"attack": attack_name, **fields}))


async def error_line_of(infra, invocation_id: str) -> ExtensionLogLine:
    seen = await read_topic(
        infra.bootstrap_servers,
        EXTENSION_LOGS,
        until=lambda msgs: any(
            m.invocation_id == invocation_id and m.kind == "error" for m in msgs
        ),
    )
    return next(m for m in seen if m.invocation_id == invocation_id and m.kind == "error")


async def assert_contained(
    infra, runtime, snapshot, attack_name: str, reason: str, **fields: object
):
    """The attack ends `error`, its log line names `reason`, and the next call is served."""
    invocation = attack(snapshot, attack_name, **fields)
    result = await runtime.invoke(invocation)
    assert result.outcome == "error", result
    assert result.response is None
    assert reason in (result.error or ""), result.error
    line = await error_line_of(infra, invocation.invocation_id)
    assert reason in line.message
    assert line.mode == "active"
    after = await runtime.invoke(attack(snapshot, "ok"))
    assert after.outcome == "ok"
    assert after.response is not None and after.response.body == {"got": "fine"}


async def test_platform_valkey_port_cannot_be_reached(infra, hostile):
    runtime, snapshot = hostile
    url = urlparse(infra.redis_url)
    await assert_contained(
        infra,
        runtime,
        snapshot,
        "connect_tcp",
        "Operation not permitted",
        host=url.hostname,
        port=url.port,
    )


async def test_broker_port_cannot_be_reached(infra, hostile):
    runtime, snapshot = hostile
    host, _, port = infra.bootstrap_servers.partition(",")[0].rpartition(":")
    await assert_contained(
        infra,
        runtime,
        snapshot,
        "connect_tcp",
        "Operation not permitted",
        host=host,
        port=int(port),
    )


async def test_no_socket_of_any_kind_opens(infra, hostile, tmp_path: Path):
    runtime, snapshot = hostile
    await assert_contained(
        infra, runtime, snapshot, "unix_socket", "Operation not permitted", path=str(tmp_path / "s")
    )
    await assert_contained(
        infra, runtime, snapshot, "raw_socket_syscall", "Operation not permitted"
    )


async def test_raw_urllib_to_undeclared_or_plain_http_host_fails(infra, hostile):
    runtime, snapshot = hostile
    # A literal address meets the socket ban; a name does not even resolve.
    for url, reason in (
        ("http://127.0.0.1:1/", "Operation not permitted"),
        ("https://api.probe.example/v1/ping", "name resolution"),
    ):
        await assert_contained(infra, runtime, snapshot, "urllib_get", reason, url=url)


async def test_service_environment_is_invisible(infra, hostile, canary):
    runtime, snapshot = hostile
    await assert_contained(infra, runtime, snapshot, "environment", "KeyError", name=canary)
    await assert_contained(
        infra, runtime, snapshot, "environment", "KeyError", name="SECRETS_KEYRING"
    )
    # No /proc in the worker's view, and its parent is outside its PID namespace (pid 0).
    await assert_contained(
        infra, runtime, snapshot, "parent_environment", "No such file or directory"
    )


async def test_keyring_and_platform_files_do_not_exist_for_the_worker(
    infra, hostile, tmp_path: Path
):
    runtime, snapshot = hostile
    keyring_file = tmp_path / ".backfill" / "keyring"
    keyring_file.parent.mkdir()
    keyring_file.write_text("k1:secret-key-material")
    repo = Path(__file__).resolve().parents[2]
    for path in (
        keyring_file,
        repo / "services" / "base" / "secrets_crypto.py",
        Path("/etc/passwd"),
    ):
        await assert_contained(
            infra, runtime, snapshot, "read_file", "No such file or directory", path=str(path)
        )


async def test_the_interpreters_own_site_packages_shows_empty(infra, hostile):
    """The view binds the standard library whole and covers its site-packages (which may
    hold the platform, in an image that installs into the interpreter)."""
    runtime, snapshot = hostile
    site = Path(sysconfig.get_paths()["stdlib"]) / "site-packages"
    entries = sorted(site.iterdir()) if site.is_dir() else []
    if not entries:
        pytest.skip("this interpreter's own site-packages is empty")
    target = next((e for e in entries if e.is_file()), entries[0] / "__init__.py")
    await assert_contained(
        infra, runtime, snapshot, "read_file", "No such file or directory", path=str(target)
    )
    # the standard library itself is all there (a module not imported by the worker yet)
    invocation = attack(snapshot, "import_module", module="wave")
    assert (await runtime.invoke(invocation)).outcome == "ok"


async def test_another_bundles_files_are_out_of_reach(infra, hostile, redis):
    runtime, snapshot = hostile
    other = await deploy_directory(redis, BUNDLES / "probe")
    await runtime.invoke(webhook(installation(other), msgspec.json.encode({"action": "ping"})))
    await assert_contained(
        infra,
        runtime,
        snapshot,
        "import_module",
        "No module named",
        module=package_of(other.digest),
    )
    source = BUNDLES / "probe" / "src" / "lib" / "actions.py"
    await assert_contained(
        infra, runtime, snapshot, "read_file", "No such file or directory", path=str(source)
    )


async def test_platform_service_modules_cannot_be_imported(infra, hostile):
    runtime, snapshot = hostile
    for module in ("services.base.secrets_crypto", "services.registry.service", "cli.main"):
        await assert_contained(
            infra, runtime, snapshot, "import_module", "No module named", module=module
        )


async def test_busy_loop_is_killed_at_the_time_limit_and_another_tenant_is_served(
    infra, hostile, redis
):
    runtime, snapshot = hostile
    invocation = attack(snapshot, "spin")
    result = await runtime.invoke(invocation)
    assert result.outcome == "timeout"
    assert result.error == "time limit of 2s exceeded"
    line = await error_line_of(infra, invocation.invocation_id)
    assert line.message == "time limit of 2s exceeded: the worker running it was stopped"
    other_tenant = installation(snapshot.active, workspace_id="ws_other")
    served = await runtime.invoke(attack(other_tenant, "ok"))
    assert served.outcome == "ok"


async def test_allocating_past_the_memory_limit_fails_cleanly(infra, hostile):
    runtime, snapshot = hostile
    await assert_contained(infra, runtime, snapshot, "allocate", "MemoryError", bytes=2**31)


async def test_no_child_process_can_start(infra, hostile):
    runtime, snapshot = hostile
    await assert_contained(infra, runtime, snapshot, "fork", "Operation not permitted")
    await assert_contained(infra, runtime, snapshot, "spawn", "Operation not permitted")


async def test_no_signal_reaches_the_parent(infra, hostile):
    runtime, snapshot = hostile
    await assert_contained(infra, runtime, snapshot, "kill_parent", "Operation not permitted")


async def test_writes_land_only_in_the_scratch_dir(infra, hostile, tmp_path: Path):
    runtime, snapshot = hostile
    target = tmp_path / "planted.txt"
    await assert_contained(
        infra, runtime, snapshot, "write_file", "No such file or directory", path=str(target)
    )
    assert not target.exists()
    scratch = await runtime.invoke(attack(snapshot, "write_scratch", text="note"))
    assert scratch.outcome == "ok"
    assert scratch.response is not None and scratch.response.body == {"got": "note"}


async def test_module_state_is_invisible_to_another_workspace(hostile):
    runtime, snapshot = hostile
    stashed = await runtime.invoke(attack(snapshot, "stash", value="tenant-a-data"))
    assert stashed.outcome == "ok"
    same = await runtime.invoke(attack(snapshot, "peek"))
    assert same.response is not None and same.response.body == {"got": "tenant-a-data"}
    for other in (
        installation(snapshot.active, workspace_id="ws_other"),
        installation(snapshot.active),  # another installation of the same workspace
    ):
        peeked = await runtime.invoke(attack(other, "peek"))
        assert peeked.response is not None and peeked.response.body == {"got": None}


async def test_log_flood_is_capped_per_invocation(infra, redis, keyring, producer):
    runtime = make_runtime(redis, keyring, producer, max_log_lines=50)
    snapshot = installation(await deploy_directory(redis, BUNDLES / "hostile"))
    invocation = attack(snapshot, "flood_logs", lines=80, size=20_000)
    result = await runtime.invoke(invocation)
    await runtime.close()
    assert result.outcome == "ok"
    seen = await read_topic(
        infra.bootstrap_servers,
        EXTENSION_LOGS,
        until=lambda msgs: any(
            m.invocation_id == invocation.invocation_id and m.kind == "platform" for m in msgs
        ),
    )
    lines = [m for m in seen if m.invocation_id == invocation.invocation_id]
    logged = [m for m in lines if m.kind == "log"]
    [cap] = [m for m in lines if m.kind == "platform"]
    assert len(logged) == 50
    assert all(len(m.message) == 8_192 for m in logged)
    assert "log line limit of 50 per invocation reached" in cap.message


async def test_oversized_response_is_an_error_not_a_crash(infra, hostile):
    runtime, snapshot = hostile
    await assert_contained(
        infra, runtime, snapshot, "huge_response", "exceeds the limit", bytes=6 * 1024 * 1024
    )


async def test_a_worker_that_dies_mid_invocation_ends_it_with_an_error(infra, hostile):
    runtime, snapshot = hostile
    await assert_contained(infra, runtime, snapshot, "crash", "worker exited during the invocation")


def zygote_of(runtime: IsolatedRuntime) -> int | None:
    """The pid of this runtime's live zygote (other runtimes of the process have their own)."""
    zygote = runtime.pool.zygote
    return zygote.pid if zygote is not None and zygote.poll() is None else None


async def test_runtime_recovers_when_its_zygote_is_killed(hostile):
    runtime, snapshot = hostile
    assert (await runtime.invoke(attack(snapshot, "ok"))).outcome == "ok"
    zygote = zygote_of(runtime)
    assert zygote is not None
    os.kill(zygote, 9)
    outcomes: list[str] = []
    for _ in range(50):  # its workers die with it; at most the calls in flight may fail
        tenant = installation(snapshot.active)  # a new installation needs a new worker
        outcomes.append((await runtime.invoke(attack(tenant, "ok"))).outcome)
        if outcomes[-1] == "ok" and zygote_of(runtime) not in (None, zygote):
            break
        await asyncio.sleep(0.1)
    assert outcomes[-1] == "ok", outcomes
    assert zygote_of(runtime) not in (None, zygote)
    assert (await runtime.invoke(attack(snapshot, "ok"))).outcome == "ok"
