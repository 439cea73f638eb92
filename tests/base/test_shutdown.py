"""Graceful shutdown ends even when the broker stops answering (each stop step is bounded)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from cli.embedded import free_port
from tests.harness import Infra, embedded_infra


@pytest.fixture
def private() -> Iterator[Infra]:
    """A broker and Valkey of this test only: freezing them disturbs no other test."""
    with embedded_infra() as infra:
        yield infra


def _wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "the service exited before it was ready"
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} never became ready")


def test_sigterm_with_a_frozen_broker_still_completes_the_shutdown(
    private: Infra, tmp_path
) -> None:
    assert private.broker is not None
    port = free_port()
    output = tmp_path / "logs.out"
    with output.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.logs"],
            env={
                **private.env(),
                "LOGS_PORT": str(port),
                "LOGS_DATA_DIR": str(tmp_path / "logs-store"),  # chDB's directory has one owner
            },
            stdout=err,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_ready(f"http://127.0.0.1:{port}", process)
        private.broker.pause()
        try:
            process.send_signal(signal.SIGTERM)
            # Generous liveness bound, not a performance figure: unbounded, this never returns.
            code = process.wait(timeout=120)
        finally:
            private.broker.resume()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    print(output.read_text()[-3000:])
    assert code in (0, -signal.SIGTERM)  # uvicorn re-raises the signal after a clean stop
    events = [json.loads(line) for line in output.read_text().splitlines() if line.startswith("{")]
    assert "Application shutdown complete." in [e.get("msg") for e in events]
