"""`backfill up --valkey-cluster 3`: the suite on a 3-node Valkey Cluster from the same wheel."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx

from cli.embedded import free_port, port_in_use
from tests.cli.test_up import SERVICES, children_of, processes_by_role


def cluster_base_port() -> int:
    """A free port whose two successors are free too (the nodes listen on base, +1, +2), and
    their cluster bus ports (+10,000) as well."""
    while True:
        base = free_port()
        wanted = [base + i for i in (1, 2)] + [base + 10_000 + i for i in (0, 1, 2)]
        if base <= 55_535 and not any(port_in_use(port) for port in wanted):
            return base


def started(env: dict[str, str], attempts: int = 3) -> tuple[subprocess.Popen[str], str, int]:
    """`backfill up --valkey-cluster 3` up to its admin token: (process, output, base port).

    Another test worker may take one of the six ports between the check and the start (the
    bus ports lie in the ephemeral range): then it starts again on other ports, as the
    harness's own cluster does.
    """
    for attempt in range(attempts):
        base = cluster_base_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "up", "--valkey-cluster", "3"],
            env={**env, "BACKFILL_VALKEY_PORT": str(base)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        lines: list[str] = []
        deadline = time.monotonic() + 180
        assert process.stdout is not None
        while time.monotonic() < deadline and not any("admin token" in x for x in lines):
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
        output = "".join(lines)
        if "admin token" in output or "was taken" not in output or attempt == attempts - 1:
            return process, output, base
        process.wait(60)  # it stopped what it had started
    raise AssertionError("unreachable")


def test_up_with_a_valkey_cluster_runs_every_service_on_it(tmp_path) -> None:
    ports = {name: free_port() for name in SERVICES}
    env = {k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP_SERVERS", "REDIS_URL")}
    env.update({f"{name.upper()}_PORT": str(port) for name, port in ports.items()})
    env.update(BACKFILL_HOME=str(tmp_path / ".backfill"), BACKFILL_BROKER_PORT=str(free_port()))
    process, output, base = started(env)
    try:
        assert "admin token" in output, output
        nodes = ",".join(f"127.0.0.1:{base + i}" for i in range(3))
        assert f"redis+cluster://{nodes}" in output
        valkeys = [
            pid
            for pid in children_of(process.pid)
            if "valkey" in open(f"/proc/{pid}/cmdline", "rb").read().decode(errors="replace")
        ]
        assert len(valkeys) == 3, valkeys
        token = output.split("admin token (workspace dev): ")[1].split()[0]
        registry = f"http://127.0.0.1:{ports['registry']}"
        auth = {"authorization": f"Bearer {token}"}
        added = httpx.post(f"{registry}/v1/members", json={"email": "c@example.com"}, headers=auth)
        assert added.status_code == 201, added.text
        listed = httpx.get(f"{registry}/v1/members", headers=auth).json()
        assert "c@example.com" in str(listed)
        assert set(processes_by_role(process.pid)) >= set(SERVICES)
        process.send_signal(signal.SIGTERM)
        assert process.wait(120) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
