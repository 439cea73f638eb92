"""`make bench`: ingress end to end against a bare Litestar `return 202`, in the same run.

Ingress runs twice side by side: with the default isolated runtime (extension code in
locked-down worker processes) and with the in-process runtime (`RUNTIME_ISOLATION=false`,
`RUNTIME_ALLOW_IN_PROCESS=true`), so the cost of isolation is measured in the same run.

Starts its own embedded broker and Valkey (or uses KAFKA_BOOTSTRAP_SERVERS / REDIS_URL),
installs the first-party Stripe connector, runs ingress as `python -m services.ingress` and
the bare app as separate processes, and drives both from a third process with pre-signed
Stripe deliveries (every event new, so each one is verified, handled by the connector,
deduped in Redis and published with its raw delivery, acks=all). Prints deliveries/s,
p50/p99 and each server's CPU per request (Linux), the ratio to the bare app, and p99 at a
fixed 1,000 req/s. 127.0.0.1 only; bounded in count and time; stops every process it
started, by pid.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import msgspec
from redis.asyncio import Redis

from bench import load
from bench.api_routes import RATE_LIMIT_ENV, install_deals_board, route_requests
from cli.embedded import free_port, start_broker, start_valkey
from contracts.ids import new_id
from contracts.installations import InstallationSnapshot, VersionRef
from contracts.secrets import SecretEntry
from contracts.topics import INSTALLATION_SNAPSHOTS
from sdk.bundle import bundle_key, digest_of, pack, version_id_of
from services.base.auth import Principal, new_token, token_digest, token_key
from services.base.kafka import create_producer, ensure_topics, publish
from services.base.secrets_crypto import Keyring, SecretBinding
from services.base.settings import InfraSettings
from services.ingress.signatures import sign_stripe

ROOT = Path(__file__).resolve().parent.parent
SECRET = "whsec_bench_secret"


@contextmanager
def infrastructure() -> Iterator[dict[str, str]]:
    """Env pointing at a broker and Valkey: the configured ones, or embedded ones we stop."""
    env = dict(os.environ)
    env.setdefault("SECRETS_KEYRING", Keyring.generate_entry("v1"))
    started = []
    home = Path(tempfile.mkdtemp(prefix="backfill-bench-"))
    try:
        if "KAFKA_BOOTSTRAP_SERVERS" not in env:
            broker = start_broker(free_port(), home / "broker.log")
            started.append(broker)
            env["KAFKA_BOOTSTRAP_SERVERS"] = f"127.0.0.1:{broker.port}"
        if "REDIS_URL" not in env:
            valkey = start_valkey(free_port(), home / "valkey", home / "valkey.log")
            started.append(valkey)
            env["REDIS_URL"] = f"redis://127.0.0.1:{valkey.port}/0"
        yield env
    finally:
        for process in reversed(started):
            process.stop()
        shutil.rmtree(home, ignore_errors=True)


async def install_stripe(env: dict[str, str]) -> tuple[InstallationSnapshot, str]:
    """Deploy connectors/stripe, publish an active installation, return it and an admin token."""
    settings = InfraSettings(
        kafka_bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"], redis_url=env["REDIS_URL"]
    )
    await ensure_topics(settings.kafka_bootstrap_servers)
    keyring = Keyring.parse(env["SECRETS_KEYRING"])
    archive, manifest = pack(ROOT / "connectors" / "stripe")
    digest = digest_of(archive)
    redis = Redis.from_url(settings.redis_url)
    await redis.set(bundle_key(digest), archive)
    version = VersionRef(
        version_id=version_id_of(digest),
        digest=digest,
        label=manifest.version,
        deployed_at=time.time(),
        deployed_by="mem_bench",
        manifest=manifest,
    )
    installation_id, workspace_id = new_id("ins"), "ws_bench"
    binding = SecretBinding(
        workspace_id=workspace_id,
        installation_id=installation_id,
        name="webhook_secret",
        revision=1,
    )
    snapshot = InstallationSnapshot(
        installation_id=installation_id,
        workspace_id=workspace_id,
        extension_key="stripe",
        kind="connector",
        revision=1,
        state="active",
        active=version,
        secrets={
            "webhook_secret": SecretEntry(
                name="webhook_secret",
                revision=1,
                set_at=time.time(),
                set_by="mem_bench",
                sealed=keyring.seal(SECRET.encode(), binding),
            )
        },
        hook_id=new_id("hk", 130),
        updated_at=time.time(),
    )
    producer = create_producer(settings, "bench")
    await producer.start()
    await publish(producer, INSTALLATION_SNAPSHOTS, snapshot)
    await producer.stop()
    token = new_token()
    principal = Principal(
        workspace_id=workspace_id, member_id="mem_bench", role="admin", token_id="tok_bench"
    )
    await redis.set(token_key(token_digest(token)), msgspec.json.encode(principal))
    await redis.aclose()
    return snapshot, token


def deliveries(hook_id: str, count: int) -> list[bytes]:
    """`count` distinct customer.created events, signed now (valid for 300 s)."""
    now = int(time.time())
    requests = []
    for i in range(count):
        event = {
            "id": f"evt_bench_{os.getpid()}_{time.monotonic_ns()}_{i}",
            "object": "event",
            "type": "customer.created",
            "created": now,
            "data": {
                "object": {
                    "id": f"cus_{i}",
                    "object": "customer",
                    "email": f"user{i}@example.com",
                    "name": "Bench Customer",
                    "created": now,
                }
            },
        }
        body = msgspec.json.encode(event)
        headers = {
            "content-type": "application/json",
            "stripe-signature": sign_stripe(body, SECRET, now),
        }
        requests.append(load.http_request(f"/hooks/{hook_id}", body, headers))
    return requests


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """A server process of this run (stopped by pid)."""
    return subprocess.Popen(
        [sys.executable, *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 10 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def wait_until(url: str, headers: dict[str, str] | None = None, timeout: float = 60) -> None:
    """Poll until `url` answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, headers=headers, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"bench: {url} not ready after {timeout}s")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU of a process and its live descendants (the runtime's workers) so far.

    Linux /proc; None elsewhere.
    """
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    if pid not in stats:
        return None
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        children = [p for p, (ppid, _) in stats.items() if ppid == parent and p not in tree]
        tree.update(children)
        frontier.extend(children)
    return sum(stats[p][1] for p in tree) / os.sysconf("SC_CLK_TCK")


def drive(
    mode: str,
    server: subprocess.Popen[bytes],
    port: int,
    requests: list[bytes],
    connections: int,
    rate: float = 0,
) -> tuple[load.Result, float | None]:
    """Run the load in a separate process; return its Result and the server's CPU µs/request."""
    ctx = multiprocessing.get_context("spawn")
    before = cpu_seconds(server.pid)
    with ctx.Pool(1) as pool:
        result = pool.apply(load.run, (mode, port, requests, connections, rate))
    after = cpu_seconds(server.pid)
    if before is None or after is None or not result.sent:
        return result, None
    return result, (after - before) * 1e6 / result.sent


def report(name: str, run: tuple[load.Result, float | None]) -> None:
    """One line per run."""
    result, cpu_us = run
    cpu = f"{cpu_us:5.0f} µs CPU/req" if cpu_us is not None else ""
    print(
        f"  {name:<34} {result.rate:8.0f} req/s   p50 {result.percentile(50):6.2f} ms   "
        f"p99 {result.percentile(99):6.2f} ms   {cpu}   "
        f"statuses {dict(sorted(result.statuses.items()))}"
    )


def api_route_rows(
    ingress: subprocess.Popen[bytes],
    port: int,
    hook: str,
    route: tuple[str, str],
    requests: int,
    connections: int,
    rounds: int = 3,
) -> tuple[tuple[load.Result, float | None], tuple[load.Result, float | None]]:
    """Webhook POST and API-route GET on the isolated runtime, interleaved (A B A B …).

    Returns the median round of each arm (by rate): the webhook arm is the in-run baseline.
    """
    webhook_runs, route_runs = [], []
    for _ in range(rounds):
        webhook_runs.append(drive("closed", ingress, port, deliveries(hook, requests), connections))
        route_runs.append(
            drive("closed", ingress, port, route_requests(*route, requests), connections)
        )

    def median(runs: list[tuple[load.Result, float | None]]) -> tuple[load.Result, float | None]:
        return sorted(runs, key=lambda r: r[0].rate)[len(runs) // 2]

    return median(webhook_runs), median(route_runs)


def main() -> None:
    """Parse arguments, run baseline and ingress, print figures."""
    parser = argparse.ArgumentParser(prog="python -m bench.ingress")
    parser.add_argument("--requests", type=int, default=20_000, help="per closed-loop run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rate", type=float, default=1000.0, help="open-loop requests/s")
    parser.add_argument("--rate-seconds", type=float, default=10.0)
    options = parser.parse_args()
    if options.requests > 200_000 or options.rate_seconds > 120:
        raise SystemExit("bench: bounded to 200,000 requests and 120 s per run")

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}")
    print(f"python {platform.python_version()}; {options.connections} keep-alive connections")
    with infrastructure() as env:
        snapshot, token = asyncio.run(install_stripe(env))
        route = asyncio.run(install_deals_board(env, snapshot.workspace_id))
        ingress_port, in_process_port, bare_port = free_port(), free_port(), free_port()
        quiet = {"LOG_LEVEL": "WARNING", "RUNTIME_ISOLATION": "true", **RATE_LIMIT_ENV}
        ingress = start(
            ["-m", "services.ingress"], {**env, **quiet, "INGRESS_PORT": str(ingress_port)}
        )
        in_process = start(
            ["-m", "services.ingress"],
            {
                **env,
                **quiet,
                "INGRESS_PORT": str(in_process_port),
                "RUNTIME_ISOLATION": "false",
                "RUNTIME_ALLOW_IN_PROCESS": "true",
            },
        )
        bare = start(["-m", "bench.bare_app", str(bare_port)], env)
        try:
            for port in (ingress_port, in_process_port):
                base = f"http://127.0.0.1:{port}"
                wait_until(f"{base}/readyz")
                wait_until(
                    f"{base}/v1/installations/{snapshot.installation_id}/webhook",
                    {"authorization": f"Bearer {token}"},
                )
                wait_until(
                    f"{base}/v1/installations/{route[0]}/routes",
                    {"authorization": f"Bearer {token}"},
                )
            wait_until(f"http://127.0.0.1:{bare_port}/schema/openapi.json")
            hook = snapshot.hook_id or ""
            drive("closed", ingress, ingress_port, deliveries(hook, 2_000), options.connections)
            drive(
                "closed", in_process, in_process_port, deliveries(hook, 2_000), options.connections
            )
            drive("closed", bare, bare_port, deliveries(hook, 2_000), options.connections)
            drive(
                "closed", ingress, ingress_port, route_requests(*route, 2_000), options.connections
            )
            bare_run = drive(
                "closed", bare, bare_port, deliveries(hook, options.requests), options.connections
            )
            ingress_run = drive(
                "closed",
                ingress,
                ingress_port,
                deliveries(hook, options.requests),
                options.connections,
            )
            in_process_run = drive(
                "closed",
                in_process,
                in_process_port,
                deliveries(hook, options.requests),
                options.connections,
            )
            paced = drive(
                "open",
                ingress,
                ingress_port,
                deliveries(hook, int(options.rate * options.rate_seconds)),
                64,
                options.rate,
            )
            paced_in_process = drive(
                "open",
                in_process,
                in_process_port,
                deliveries(hook, int(options.rate * options.rate_seconds)),
                64,
                options.rate,
            )
            webhook_rounds, route_rounds = api_route_rows(
                ingress, ingress_port, hook, route, options.requests // 4, options.connections
            )
        finally:
            stop(ingress)
            stop(in_process)
            stop(bare)
    print()
    report("bare Litestar return 202", bare_run)
    report("ingress, isolated runtime", ingress_run)
    report("ingress, in-process runtime", in_process_run)
    report(f"isolated at fixed {options.rate:.0f} req/s", paced)
    report(f"in-process at fixed {options.rate:.0f} req/s", paced_in_process)
    ratio = ingress_run[0].rate / bare_run[0].rate if bare_run[0].rate else 0
    isolation = ingress_run[0].rate / in_process_run[0].rate if in_process_run[0].rate else 0
    print()
    print(f"  ratio ingress (isolated) / bare: {ratio:.2f}   (target >= 0.60)")
    print(f"  ratio isolated / in-process: {isolation:.2f}   (target >= 0.80)")
    p99 = paced[0].percentile(99)
    print(f"  p99 at {options.rate:.0f} req/s, isolated: {p99:.2f} ms   (target <= 25 ms)")
    p99 = paced_in_process[0].percentile(99)
    print(f"  p99 at {options.rate:.0f} req/s, in-process: {p99:.2f} ms")
    print()
    print("  webhook vs API route, isolated, interleaved rounds (median):")
    report("webhook POST (signed, deduped)", webhook_rounds)
    report("API route GET (api_key)", route_rounds)
    if webhook_rounds[0].rate:
        print(f"  ratio API route / webhook: {route_rounds[0].rate / webhook_rounds[0].rate:.2f}")


if __name__ == "__main__":
    main()
