"""`make bench-hooks`: the core's before-write call through ingress, 3 hooks, isolated runtime.

Deploys three extensions with a `before_save` hook on deals into one workspace (the example
`examples/deals-guard` plus two small ones: a score and a check), runs ingress as
`python -m services.ingress` with the default isolated runtime, and drives
`POST /internal/workspaces/{ws}/entities/deal/before-write` from a separate process. The
in-run baseline is the same route for a workspace with no hooks (routing, auth, decoding,
the index lookup and the verdict, without any extension code). Arms are interleaved
(baseline, hooks, baseline, hooks …) over `--rounds`; medians are printed with the ratio.
Closed loop gives throughput; the open loop at a fixed rate (200 writes/s) gives p99.
127.0.0.1 only; bounded; stops every process it started, by pid.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import msgspec
from redis.asyncio import Redis

from bench import load
from bench.bundles import active_snapshot, store_bundle
from bench.ingress import ROOT, drive, infrastructure, start, stop, wait_until
from cli.embedded import free_port
from contracts.topics import INSTALLATION_SNAPSHOTS
from services.base.kafka import create_producer, ensure_topics, publish
from services.base.settings import InfraSettings

INTERNAL = "bench-internal-token"
SCORE = "def before_save(ctx, record, previous):\n    return {'score': len(record['name'])}\n"
CHECK = """
from sdk import ValidationError

def before_save(ctx, record, previous):
    if record.get("stage") == "lost" and not record.get("reason"):
        raise ValidationError("reason", "Say why the deal was lost")
"""


def hook_directory(root: Path, key: str, code: str) -> Path:
    """A one-hook extension directory."""
    directory = root / key
    (directory / "src").mkdir(parents=True)
    (directory / "src" / "hook.py").write_text(code)
    manifest = {
        "key": key,
        "kind": "extension",
        "name": key,
        "version": "1.0.0",
        "permissions": {"entities": [{"type": "deal", "access": "write"}]},
        "hooks": [{"entity": "deal", "events": ["before_save"], "entry": "src/hook.py"}],
    }
    (directory / "manifest.json").write_bytes(msgspec.json.encode(manifest))
    return directory


async def install_hooks(env: dict[str, str], workspace_id: str) -> None:
    """Store three hook bundles and publish an active installation of each."""
    await ensure_topics(env["KAFKA_BOOTSTRAP_SERVERS"])
    redis = Redis.from_url(env["REDIS_URL"])
    settings = InfraSettings(
        kafka_bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"], redis_url=env["REDIS_URL"]
    )
    producer = create_producer(settings, "bench-hooks")
    await producer.start()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for directory in (
            ROOT / "examples" / "deals-guard",
            hook_directory(root, "bench-score", SCORE),
            hook_directory(root, "bench-check", CHECK),
        ):
            version = await store_bundle(redis, directory)
            snapshot = active_snapshot(version, workspace_id)
            await publish(producer, INSTALLATION_SNAPSHOTS, snapshot)
    await producer.stop()
    await redis.aclose()


def writes(workspace_id: str, count: int) -> list[bytes]:
    """`count` before-write calls of distinct deals that every hook allows."""
    headers = {"content-type": "application/json", "authorization": f"Bearer {INTERNAL}"}
    path = f"/internal/workspaces/{workspace_id}/entities/deal/before-write"
    requests = []
    for i in range(count):
        body = {
            "write_id": f"wr_{i}",
            "operation": "save",
            "entity_id": f"deal_{i}",
            "record": {"name": f"Deal {i}", "amount": 100 + i, "currency": "eur"},
            "actor": {"type": "member", "id": "mem_bench"},
        }
        requests.append(load.http_request(path, msgspec.json.encode(body), headers))
    return requests


def wait_for_hooks(port: int, workspace_id: str, expected: int) -> None:
    """Until ingress runs `expected` hooks on a write of the workspace."""
    url = f"http://127.0.0.1:{port}/internal/workspaces/{workspace_id}/entities/deal/before-write"
    body = {
        "write_id": "w",
        "operation": "save",
        "entity_id": "d",
        "record": {"name": "x", "amount": 1},
        "actor": {"type": "system", "id": "bench"},
    }
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        answer = httpx.post(url, json=body, headers={"authorization": f"Bearer {INTERNAL}"})
        if answer.status_code == 200 and answer.json()["hooks_run"] == expected:
            return
        time.sleep(0.2)
    raise SystemExit("bench: ingress never ran the hooks")


def cpu_wait_ms(pid: int) -> float:
    """Time the process' main thread (the event loop) spent runnable but waiting for a CPU."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e6
    except (OSError, IndexError, ValueError):
        return 0.0  # not Linux: the figure is left out


def median_line(name: str, runs: list[load.Result]) -> tuple[float, float, float]:
    """Print and return the medians of rate, p50 and p99 over the rounds."""
    rate = statistics.median(r.rate for r in runs)
    p50 = statistics.median(r.percentile(50) for r in runs)
    p99 = statistics.median(r.percentile(99) for r in runs)
    statuses: dict[int, int] = {}
    for r in runs:
        for status, n in r.statuses.items():
            statuses[status] = statuses.get(status, 0) + n
    print(f"  {name:<40} {rate:8.0f} req/s   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms   {statuses}")
    return rate, p50, p99


def main() -> None:
    """Parse arguments, run the interleaved arms, print medians and ratios."""
    parser = argparse.ArgumentParser(prog="python -m bench.hooks")
    parser.add_argument("--requests", type=int, default=3_000, help="per closed-loop run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rate", type=float, default=200.0, help="open-loop writes/s")
    parser.add_argument("--rate-seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    if options.requests > 50_000 or options.rate_seconds > 60 or options.rounds > 10:
        raise SystemExit("bench: bounded to 50,000 requests, 60 s and 10 rounds per arm")
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}")
    hooked, bare = "ws_bench_hooks", "ws_bench_none"
    with infrastructure() as env:
        env["INTERNAL_TOKEN"] = INTERNAL
        asyncio.run(install_hooks(env, hooked))
        port = free_port()
        quiet = {"LOG_LEVEL": "WARNING", "RUNTIME_ISOLATION": "true", "INGRESS_PORT": str(port)}
        ingress = start(["-m", "services.ingress"], {**env, **quiet})
        closed: dict[str, list[load.Result]] = {hooked: [], bare: []}
        paced: dict[str, list[load.Result]] = {hooked: [], bare: []}
        starved: dict[str, list[float]] = {hooked: [], bare: []}
        try:
            wait_until(f"http://127.0.0.1:{port}/readyz")
            wait_for_hooks(port, hooked, 3)
            drive("closed", ingress, port, writes(hooked, 500), options.connections)  # warm-up
            count = int(options.rate * options.rate_seconds)
            for _ in range(options.rounds):
                for ws in (bare, hooked):  # interleaved: A B A B …
                    run = drive(
                        "closed", ingress, port, writes(ws, options.requests), options.connections
                    )
                    closed[ws].append(run[0])
                for ws in (bare, hooked):
                    waited = cpu_wait_ms(ingress.pid)
                    run = drive("open", ingress, port, writes(ws, count), 64, options.rate)
                    paced[ws].append(run[0])
                    starved[ws].append(cpu_wait_ms(ingress.pid) - waited)
        finally:
            stop(ingress)
    print()
    base_rate, _, _ = median_line("before-write, no hooks (baseline)", closed[bare])
    hook_rate, _, _ = median_line("before-write, 3 hooks, isolated", closed[hooked])
    _, _, base_p99 = median_line(f"no hooks at {options.rate:.0f} writes/s", paced[bare])
    _, _, p99 = median_line(f"3 hooks at {options.rate:.0f} writes/s", paced[hooked])
    print()
    ratio = hook_rate / base_rate if base_rate else 0
    print(f"  throughput ratio 3 hooks / no hooks: {ratio:.2f}")
    print(f"  p99 at {options.rate:.0f} writes/s, 3 hooks: {p99:.2f} ms   (target <= 20 ms)")
    print(f"  p99 at {options.rate:.0f} writes/s, baseline: {base_p99:.2f} ms")
    waits = ", ".join(f"{w:.0f}" for w in starved[hooked])
    print(f"  ingress' event loop waited for a CPU during the 3-hook paced runs: {waits} ms")
    print("  (runnable but not running: time the machine gave to other processes)")


if __name__ == "__main__":
    main()
