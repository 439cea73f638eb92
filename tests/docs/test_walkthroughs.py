"""The walkthroughs run as written: every `sh` block of docs/walkthrough-*.md, in order, in
one bash session in a fresh directory, against a suite `backfill up` starts there.

Only what cannot run unattended is translated, visibly: the default ports become free ones
(tests never use 8000-8004), and a `make run` line (with its variables) stops the running
suite and starts it again, as the walkthrough tells its reader to. `make walkthroughs` runs
all of them (a few minutes); `make test` runs the registry walkthrough alone.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from cli.embedded import free_port

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
ALL = ("walkthrough-registry.md", "walkthrough-stripe.md", "walkthrough-logs.md")
BLOCK = re.compile(r"^```sh\n(.*?)^```", re.S | re.M)
MAKE_RUN = re.compile(r"^((?:[A-Z_]+=\S+ )*)make run\s*$", re.M)
DEFAULT_PORTS = {8000: "CONSOLE", 8001: "REGISTRY", 8002: "INGRESS", 8003: "SYNC", 8004: "LOGS"}
LOCAL_PORTS = (12111, 12112)  # the stand-in provider and the alert receiver

PREAMBLE = r"""
set -euo pipefail
SUITE=
STARTS=0
start_suite() {
  STARTS=$((STARTS + 1)); LOG=".suite-$STARTS.log"  # one log per start: no stale match
  env -u KAFKA_BOOTSTRAP_SERVERS "$@" .venv/bin/backfill up > "$LOG" 2>&1 &
  SUITE=$!
  for _ in $(seq 1 360); do
    grep -q "admin token" "$LOG" && return 0
    kill -0 "$SUITE" 2>/dev/null || break
    sleep 0.5
  done
  cat "$LOG"; return 1
}
stop_suite() {
  if [ -n "$SUITE" ]; then kill -INT "$SUITE"; wait "$SUITE" || true; SUITE=; fi
}
restart_suite() { stop_suite; start_suite "$@"; }
finish() { stop_suite; kill $(jobs -p) 2>/dev/null || true; }
trap finish EXIT
start_suite
"""


def blocks(name: str) -> list[str]:
    """The `sh` blocks of one walkthrough, in order."""
    return BLOCK.findall((DOCS / name).read_text())


def script(names: tuple[str, ...], ports: dict[int, int]) -> str:
    """The blocks as one bash script, with the translations above."""
    body = "\n".join(block for name in names for block in blocks(name))
    body = MAKE_RUN.sub(lambda m: "restart_suite " + m.group(1).strip(), body)
    for default, port in ports.items():
        if default in LOCAL_PORTS:  # also where a command takes the port alone
            body = re.sub(rf"\b{default}\b", str(port), body)
        body = re.sub(rf"(127\.0\.0\.1|localhost):{default}\b", rf"\g<1>:{port}", body)
    return PREAMBLE + body + "\n"


def run_walkthroughs(names: tuple[str, ...], tmp_path: Path) -> str:
    ports = {port: free_port() for port in (*DEFAULT_PORTS, *LOCAL_PORTS)}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BACKFILL_", "KAFKA_"))}
    env.pop("REDIS_URL", None)
    env.update({f"{name}_PORT": str(ports[port]) for port, name in DEFAULT_PORTS.items()})
    env.update(
        {
            f"BACKFILL_{name}_URL": f"http://127.0.0.1:{ports[port]}"
            for port, name in DEFAULT_PORTS.items()
            if name != "CONSOLE"
        }
    )
    broker = free_port()
    env.update(
        BACKFILL_BROKER_PORT=str(broker),
        BACKFILL_VALKEY_PORT=str(free_port()),
        KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{broker}",  # for `backfill topics`, not for `up`
        PATH=f"{ROOT / '.venv' / 'bin'}:{env.get('PATH', '')}",
    )
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    text = script(names, ports)
    (tmp_path / "walkthrough.sh").write_text(text)
    done = subprocess.run(
        ["bash", "walkthrough.sh"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    output = done.stdout + done.stderr
    (tmp_path / "walkthrough.log").write_text(output)
    assert done.returncode == 0, output[-6000:]
    assert "Traceback" not in output and '"internal_error"' not in output, output[-6000:]
    return output


def test_the_registry_walkthrough_runs_as_written(tmp_path: Path) -> None:
    output = run_walkthroughs(("walkthrough-registry.md",), tmp_path)
    assert '"state":"active"' in output  # the setting made the installation active
    assert "VersionDeployed" in output  # the audit trail, via Kafka


@pytest.mark.skipif(
    os.environ.get("BACKFILL_WALKTHROUGHS") != "1", reason="`make walkthroughs` runs them all"
)
def test_every_walkthrough_runs_as_written_in_order(tmp_path: Path) -> None:
    output = run_walkthroughs(ALL, tmp_path)
    assert '"outcome":"accepted"' in output or "accepted" in output  # the signed Stripe event
    assert "customers" in output and '"items"' in output
    assert "alert.test" in output  # the local receiver got the signed test alert
