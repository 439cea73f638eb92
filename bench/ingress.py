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
from contextlib import contextmanager, nullcontext
from pathlib import Path
from statistics import median

import httpx
import msgspec
from redis.asyncio import Redis

from bench import load, profile
from bench.api_routes import RATE_LIMIT_ENV, install_deals_board, route_requests
from bench.bundles import active_snapshot, store_bundle
from cli.embedded import free_port, on_free_port, start_broker, start_valkey
from contracts.ids import new_id
from contracts.installations import InstallationSnapshot
from contracts.secrets import SecretEntry
from contracts.topics import INSTALLATION_SNAPSHOTS
from services.base.auth import Principal, new_token, token_digest, token_key
from services.base.kafka import create_producer, ensure_topics, publish
from services.base.secrets_crypto import Keyring, SecretBinding
from services.base.settings import InfraSettings
from services.ingress.signatures import sign_stripe

ROOT = Path(__file__).resolve().parent.parent
SECRET = "whsec_bench_secret"
PROFILED: dict[int, profile.Phases] = {}  # servers run under bench.profiled, by pid


@contextmanager
def infrastructure() -> Iterator[dict[str, str]]:
    """Env pointing at a broker and Valkey: the configured ones, or embedded ones we stop."""
    env = dict(os.environ)
    env.setdefault("SECRETS_KEYRING", Keyring.generate_entry("v1"))
    started = []
    home = Path(tempfile.mkdtemp(prefix="backfill-bench-"))
    try:
        if "KAFKA_BOOTSTRAP_SERVERS" not in env:
            broker = on_free_port(lambda port: start_broker(port, home / "broker.log"))
            started.append(broker)
            env["KAFKA_BOOTSTRAP_SERVERS"] = f"127.0.0.1:{broker.port}"
        if "REDIS_URL" not in env:
            valkey = on_free_port(
                lambda port: start_valkey(port, home / "valkey", home / "valkey.log")
            )
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
    redis = Redis.from_url(settings.redis_url)
    version = await store_bundle(redis, ROOT / "connectors" / "stripe")
    installation_id, workspace_id = new_id("ins"), "ws_bench"
    binding = SecretBinding(
        workspace_id=workspace_id,
        installation_id=installation_id,
        name="webhook_secret",
        revision=1,
    )
    snapshot = active_snapshot(
        version,
        workspace_id,
        installation_id=installation_id,
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
    """User + system CPU of a process tree so far: each live process of the tree counted once,
    plus the descendants that already exited (the runtime's killed or recycled workers), which
    Linux adds to their parent's `cutime`/`cstime` when it reaps them.

    Linux /proc; None elsewhere.
    """
    stats: dict[int, tuple[int, int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields[11..14]: utime, stime, cutime, cstime (own, and of reaped children)
        stats[int(entry.name)] = (int(fields[1]), sum(int(f) for f in fields[11:15]))
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
    expected: int = load.ACCEPTED,
) -> tuple[load.Result, float | None]:
    """Run the load in a separate process; return its Result and the server's CPU µs per
    answer with the `expected` status."""
    ctx = multiprocessing.get_context("spawn")
    phases = PROFILED.get(server.pid)
    with phases.around(f"{mode} {expected}") if phases else nullcontext():
        before = cpu_seconds(server.pid)
        with ctx.Pool(1) as pool:
            result = pool.apply(load.run, (mode, port, requests, connections, rate, expected))
        after = cpu_seconds(server.pid)
    if before is None or after is None or not result.accepted:
        return result, None
    return result, (after - before) * 1e6 / result.accepted


Run = tuple[load.Result, float | None]


def report(name: str, runs: list[Run]) -> None:
    """One line per arm: medians over its rounds (202 answers only), and every status seen."""
    rates = [r.rate for r, _ in runs]
    p50 = [r.percentile(50) for r, _ in runs]
    p99 = [r.percentile(99) for r, _ in runs]
    cpu = [c for _, c in runs if c is not None]
    statuses: dict[int, int] = {}
    for result, _ in runs:
        for status, n in result.statuses.items():
            statuses[status] = statuses.get(status, 0) + n
    cpu_text = f"{median(cpu):5.0f} µs CPU/{runs[0][0].expected}" if cpu else ""
    print(
        f"  {name:<34} {median(rates):8.0f} {runs[0][0].expected}/s   p50 {median(p50):6.2f} ms   "
        f"p99 {median(p99):6.2f} ms (rounds {min(p99):.1f}–{max(p99):.1f})   {cpu_text}   "
        f"statuses {dict(sorted(statuses.items()))}"
    )


def ratios(a: list[Run], b: list[Run]) -> list[float]:
    """Per-round throughput ratios a/b (the arms of one round ran back to back)."""
    return [x[0].rate / y[0].rate for x, y in zip(a, b, strict=True) if y[0].rate]


def main() -> None:
    """Parse arguments; run the arms interleaved (A B C A B C …); print medians of rounds."""
    parser = argparse.ArgumentParser(prog="python -m bench.ingress")
    parser.add_argument("--requests", type=int, default=10_000, help="per closed-loop run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rate", type=float, default=1000.0, help="open-loop requests/s")
    parser.add_argument("--rate-seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", help="run the isolated ingress under cProfile to FILE")
    options = parser.parse_args()
    if options.requests > 200_000 or options.rate_seconds > 120 or options.rounds > 20:
        raise SystemExit("bench: bounded to 200,000 requests, 120 s per run and 20 rounds")

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}")
    print(f"python {platform.python_version()}; {options.connections} keep-alive connections")
    arms: dict[str, list[Run]] = {}
    with infrastructure() as env:
        snapshot, token = asyncio.run(install_stripe(env))
        route = asyncio.run(install_deals_board(env, snapshot.workspace_id))
        ingress_port, in_process_port, bare_port = free_port(), free_port(), free_port()
        quiet = {"LOG_LEVEL": "WARNING", "RUNTIME_ISOLATION": "true", **RATE_LIMIT_ENV}
        profiled = ["-m", "bench.profiled", options.profile] if options.profile else []
        ingress = start(
            [*profiled, "services.ingress"] if profiled else ["-m", "services.ingress"],
            {**env, **quiet, "INGRESS_PORT": str(ingress_port)},
        )
        if options.profile:
            PROFILED[ingress.pid] = profile.Phases(ingress.pid, options.profile)
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
            servers = {
                "bare": (bare, bare_port),
                "isolated": (ingress, ingress_port),
                "in-process": (in_process, in_process_port),
            }
            for server, port in servers.values():  # warm-up, not recorded
                drive("closed", server, port, deliveries(hook, 2_000), options.connections)
            routes = route_requests(*route, 2_000)
            drive("closed", ingress, ingress_port, routes, options.connections, expected=200)
            paced = int(options.rate * options.rate_seconds)
            for _ in range(options.rounds):
                for name, (server, port) in servers.items():
                    arms.setdefault(f"closed {name}", []).append(
                        drive(
                            "closed",
                            server,
                            port,
                            deliveries(hook, options.requests),
                            options.connections,
                        )
                    )
                routes = route_requests(*route, options.requests)
                arms.setdefault("route isolated", []).append(
                    drive(
                        "closed", ingress, ingress_port, routes, options.connections, expected=200
                    )
                )
                for name in ("isolated", "in-process"):
                    server, port = servers[name]
                    # Steady state: half a second at the rate first, not recorded (the arm
                    # before it took the runtime's workers for another installation).
                    warm = deliveries(hook, int(options.rate / 2))
                    drive("open", server, port, warm, 64, options.rate)
                    arms.setdefault(f"fixed {name}", []).append(
                        drive("open", server, port, deliveries(hook, paced), 64, options.rate)
                    )
        finally:
            stop(ingress)
            stop(in_process)
            stop(bare)
    print(f"\n  medians of {options.rounds} interleaved rounds")
    report("bare Litestar return 202", arms["closed bare"])
    report("ingress, isolated runtime", arms["closed isolated"])
    report("ingress, in-process runtime", arms["closed in-process"])
    report(f"isolated at fixed {options.rate:.0f} req/s", arms["fixed isolated"])
    report(f"in-process at fixed {options.rate:.0f} req/s", arms["fixed in-process"])
    bare_ratio = ratios(arms["closed isolated"], arms["closed bare"])
    isolation = ratios(arms["closed isolated"], arms["closed in-process"])
    print()
    print(f"  ratio ingress (isolated) / bare: {median(bare_ratio):.2f}   (target >= 0.60)")
    print(f"  ratio isolated / in-process: {median(isolation):.2f}   (target >= 0.80)")
    print()
    report("API route GET (api_key), isolated", arms["route isolated"])
    route_ratio = ratios(arms["route isolated"], arms["closed isolated"])
    print(f"  ratio API route / webhook, isolated: {median(route_ratio):.2f}")
    for phases in PROFILED.values():
        for label, arm in (("closed 202", "closed isolated"), ("open 202", "fixed isolated")):
            cpu = [c for _, c in arms[arm] if c is not None]
            profile.report(f"ingress {arm}", phases.of(label), median(cpu) if cpu else None)


if __name__ == "__main__":
    main()
