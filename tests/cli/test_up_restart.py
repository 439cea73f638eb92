"""`backfill up` keeps the embedded broker's topics across a clean stop: a message published
before the stop is on its topic again after the next start (Tansu itself keeps nothing)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from cli.embedded import free_port
from tests.cli.test_up import SERVICES, add_member_through_kafka, start_up

TAIL = (sys.executable, "-m", "cli.main", "topics", "tail")


def stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    rest, _ = process.communicate(timeout=90)
    assert process.returncode == 0, rest
    return rest


def test_topics_survive_a_clean_restart_of_the_suite(tmp_path: Path) -> None:
    ports = {name: free_port() for name in SERVICES}
    broker = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP_SERVERS", "REDIS_URL")}
    env.update({f"{name.upper()}_PORT": str(port) for name, port in ports.items()})
    env.update(
        BACKFILL_HOME=str(tmp_path / ".backfill"),
        BACKFILL_BROKER_PORT=str(broker),
        BACKFILL_VALKEY_PORT=str(free_port()),
    )
    process, _ = start_up(env)
    try:
        token = (tmp_path / ".backfill" / "admin-token").read_text().strip()
        with httpx.Client(timeout=10) as client:  # on registry.audit.v1 once the logs have it
            member_id = add_member_through_kafka(client, ports, token, "restart@example.com")
    finally:
        stopped = stop(process)
    assert "saved" in stopped and "messages of the embedded broker" in stopped, stopped

    process, output = start_up(env)
    try:
        assert "restored" in output, output
        tail = subprocess.run(
            [*TAIL, "registry.audit.v1", "--from-beginning", "--timeout", "5"],
            env={**env, "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{broker}"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert member_id in tail.stdout, tail.stdout + tail.stderr
    finally:
        stop(process)
