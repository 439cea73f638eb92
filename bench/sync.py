"""`make bench-sync`: sync throughput against a direct httpx + aiokafka baseline, and lateness.

Starts its own embedded broker and Valkey (or uses KAFKA_BOOTSTRAP_SERVERS / REDIS_URL), a
local Stripe-like list API (pages of 100, newest first, `starting_after`) as its own process,
and sync as `python -m services.sync`. Prints:

- records/s from the provider to acknowledged canonical records per sync CPU-second (sync and
  its isolated runtime workers; the
  Stripe connector's `customers` stream through the runtime, dedupe, acks=all, cursor
  commits), and the ratio against in-run baseline processes that fetch the same pages and
  produce the same records with aiokafka directly, acks=all (`bench/sync_baseline.py`: the
  issue's httpx one, record by record, and a lean one, aiohttp and a batch per page);
- scheduling lateness p50/p99 with 10,000 streams on one replica (1,000 installations of a
  ten-stream connector whose pages are empty), from `sync.stream-status.v1`: a run's start
  minus the due time its previous status announced, for first runs (the activation burst)
  and for the runs after them.

127.0.0.1 only; bounded in count and time; stops every process it started, by pid.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from statistics import median
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from redis.asyncio import Redis

from bench import profile
from bench.bundles import active_snapshot, store_bundle
from bench.ingress import cpu_seconds, infrastructure, install_stripe, start, stop, wait_until
from cli.embedded import free_port
from contracts.ids import new_id
from contracts.installations import InstallationSnapshot
from contracts.topics import INSTALLATION_SNAPSHOTS, STREAM_STATUS
from services.base.kafka import create_producer, ensure_topics, publish
from services.base.settings import InfraSettings

ROOT = Path(__file__).resolve().parent.parent
PAGE = 100


def _cpu(pid: int) -> float:
    """CPU of sync and its runtime (zygote, live and exited workers), each counted once."""
    return cpu_seconds(pid) or 0.0


def _own_cpu(pid: int) -> float:
    """CPU of the sync process alone (its runtime's zygote and workers left out)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _done(redis: Redis, snapshots: list[InstallationSnapshot]) -> int:
    """Records delivered by finished `customers` sweeps (0 until every status says so)."""
    total = 0
    for snap in snapshots:
        raw = await redis.hget(f"{{i:{snap.installation_id}}}:sync:status", "stream:customers")
        status = json.loads(raw or b"{}")
        swept = json.loads(status.get("cursor") or "{}").get("since")
        if status.get("state") != "ok" or not swept:
            return 0
        total += status.get("records_total", 0)
    return total


def sync_process(
    env: dict[str, str], port: int, profile_to: str | None = None, **settings: str
) -> subprocess.Popen[bytes]:
    values = {
        "SYNC_PORT": str(port),
        "LOG_LEVEL": "WARNING",
        "SYNC_GROUP_ID": new_id("bench"),
        **{f"SYNC_{k.upper()}": v for k, v in settings.items()},
    }
    sampled = ["-m", "bench.profiled", profile_to, "services.sync"] if profile_to else []
    process = start(sampled or ["-m", "services.sync"], {**env, **values})
    wait_until(f"http://127.0.0.1:{port}/readyz", timeout=90)
    return process


class SyncArm:
    """One sync process for the throughput rounds; each round sweeps new installations."""

    def __init__(self, env: dict[str, str], url: str, profile_to: str | None = None) -> None:
        self.env = env
        self.port = free_port()
        self.process = sync_process(
            env,
            self.port,
            profile_to,
            host_overrides=f"api.stripe.com={url}",
            max_pages_per_run="100000",
            requests_per_second="0",
        )
        self.redis = Redis.from_url(env["REDIS_URL"])
        self.phases = profile.Phases(self.process.pid, profile_to) if profile_to else None

    async def sweep(self, count: int) -> dict[str, float]:
        """Records per CPU-second of `count` new installations swept to the end."""
        if self.phases:
            self.phases.cut("between")
        before, wall = _cpu(self.process.pid), time.monotonic()
        own = _own_cpu(self.process.pid)
        snapshots = [(await install_stripe(self.env))[0] for _ in range(count)]
        deadline = time.monotonic() + 600
        while not (records := await _done(self.redis, snapshots)):
            if time.monotonic() > deadline:
                raise SystemExit("bench: sync did not finish its sweeps within 600 s")
            await asyncio.sleep(0.2)
        used = _cpu(self.process.pid) - before
        own = _own_cpu(self.process.pid) - own
        if self.phases:
            self.phases.cut("sweep")
        return {
            "records": records,
            "cpu_s": used,
            "own_cpu_s": own,
            "wall_s": time.monotonic() - wall,
        }

    async def close(self) -> None:
        await self.redis.aclose()
        stop(self.process)


async def install_tickers(env: dict[str, str], installations: int) -> None:
    """`installations` active installations of the ten-stream ticker connector."""
    redis = Redis.from_url(env["REDIS_URL"])
    version = await store_bundle(redis, Path(__file__).parent / "connectors" / "ticker")
    await redis.aclose()
    producer = create_producer(
        InfraSettings(kafka_bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"]), "bench-ticker"
    )
    await producer.start()
    for _ in range(installations):
        snapshot = active_snapshot(version, "ws_bench")
        await publish(producer, INSTALLATION_SNAPSHOTS, snapshot)
    await producer.stop()


async def lateness(
    env: dict[str, str],
    installations: int,
    seconds: float,
    profile_to: str | None = None,
    **extra: str,
) -> dict[str, Any]:
    """Run start minus announced due time, from the status topic, after `seconds` of running.

    A run that was due before the end but never started counts too, as late as the end
    (a lower bound for it): leaving it out would hide exactly the worst lateness.
    """
    port = free_port()
    process = sync_process(env, port, profile_to, max_concurrent_runs="64", **extra)
    try:
        before = _cpu(process.pid)
        await install_tickers(env, installations)
        await asyncio.sleep(seconds)
        used = _cpu(process.pid) - before
        ended = time.time()
        if profile_to:  # the sampler writes what it counted so far (install and run)
            phases = profile.Phases(process.pid, profile_to)
            phases.cut("lateness")
            profile.report("the sync process, lateness run", phases.of("lateness"), None)
    finally:
        stop(process)
    first, later, settled, waiting = await _lateness_from_status(
        env["KAFKA_BOOTSTRAP_SERVERS"], ended
    )
    return {
        "first": first,
        "later": later,
        "settled": settled,
        "never_started": waiting,
        "cpu_s": used,
    }


async def _lateness_from_status(
    bootstrap: str, ended: float
) -> tuple[list[float], list[float], list[float], int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    due: dict[tuple[str, str], float] = {}
    runs: dict[tuple[str, str], int] = {}
    last_start: dict[tuple[str, str], float | None] = {}
    first: list[float] = []
    later: list[float] = []
    settled: list[float] = []  # third runs and later: past the activation and its backlog
    try:
        tps = [TopicPartition(STREAM_STATUS.name, p) for p in range(STREAM_STATUS.partitions)]
        ends = await consumer.end_offsets(tps)
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        idle = 0
        while idle < 5:
            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
            idle = idle + 1 if not batch else 0
            for records in batch.values():
                for record in records:
                    if record.value is None:
                        continue
                    status = STREAM_STATUS.decode(record.value)
                    if status.extension_key != "ticker":
                        continue
                    key = (status.installation_id, status.stream)
                    # A run's start is its `last_run_at`, on its `running` status or (statuses
                    # are coalesced: a short run publishes only its end) on its final one.
                    started = status.last_run_at
                    if started and started != last_start.get(key) and key in due:
                        seen = runs.get(key, 0)
                        late_by = started - due.pop(key)
                        (first if seen == 0 else later).append(late_by)
                        if seen >= 2:
                            settled.append(late_by)
                        runs[key] = seen + 1
                    last_start[key] = started
                    if status.next_run_at is not None and status.state != "running":
                        due[key] = status.next_run_at
            if all([await consumer.position(tp) >= end for tp, end in ends.items()]):
                break
    finally:
        await consumer.stop()
    waiting = 0
    for key, at in due.items():
        if at < ended:  # due within the run, never started: late by at least this much
            (first if runs.get(key, 0) == 0 else later).append(ended - at)
            if runs.get(key, 0) >= 2:
                settled.append(ended - at)
            waiting += 1
    return first, later, settled, waiting


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else float("nan")


async def _baseline_round(
    env: dict[str, str], url: str, customers: int, client: str
) -> dict[str, float]:
    command = [sys.executable, "-m", "bench.sync_baseline", "--url", url, "--client", client]
    command += ["--customers", str(customers)]
    done = await asyncio.to_thread(
        subprocess.run, command, env=env, cwd=ROOT, capture_output=True, check=True, timeout=600
    )
    result: dict[str, float] = json.loads(done.stdout.decode().strip().splitlines()[-1])
    return result


async def throughput_rounds(env: dict[str, str], args: argparse.Namespace) -> None:
    """Baseline and sync interleaved (B S B S …), after one unrecorded warm-up sweep (the
    sync process's start-up, first worker and bundle load stay out, as the baseline's do)."""
    port = free_port()
    provider = start(
        ["-m", "bench.paged_provider", "--port", str(port), "--customers", str(args.customers)],
        env,
    )
    url = f"http://127.0.0.1:{port}"
    base: list[dict[str, float]] = []
    lean: list[dict[str, float]] = []
    synced: list[dict[str, float]] = []
    try:
        wait_until(f"{url}/v1/customers")
        arm = SyncArm(env, url, args.profile)
        try:
            await arm.sweep(1)
            for _ in range(args.rounds):
                base.append(await _baseline_round(env, url, args.customers, "httpx"))
                lean.append(await _baseline_round(env, url, args.customers, "lean"))
                synced.append(await arm.sweep(args.installations))
        finally:
            await arm.close()
    finally:
        stop(provider)
    sync_rates = [r["records"] / r["cpu_s"] for r in synced]
    own = sum(r["own_cpu_s"] for r in synced) / sum(r["cpu_s"] for r in synced)
    print(f"share of the sync tree's CPU in the sync process itself: {own:.0%} (rest: runtime)")
    if arm.phases:
        records = sum(r["records"] for r in synced)
        cpu_us = sum(r["own_cpu_s"] for r in synced) * 1e6 / records
        profile.report("the sync process, throughput sweeps", arm.phases.of("sweep"), cpu_us)
    walls = [r["records"] / r["wall_s"] for r in synced]
    print(
        f"sync (Stripe connector, {args.installations} installations per round): "
        f"{median(sync_rates):,.0f} records per CPU-s (rounds "
        f"{', '.join(f'{r:,.0f}' for r in sync_rates)}; {median(walls):,.0f}/s wall)"
    )
    if base:
        base_rates = [r["records"] / r["cpu_s"] for r in base]
        ratios = [s / b for s, b in zip(sync_rates, base_rates, strict=True)]
        print(
            f"baseline httpx+aiokafka: {median(base_rates):,.0f} records per CPU-s (rounds "
            f"{', '.join(f'{r:,.0f}' for r in base_rates)})"
        )
        print(
            f"ratio sync/baseline per CPU-s, median of rounds: {median(ratios):.2f} "
            f"(rounds {', '.join(f'{r:.2f}' for r in ratios)}; target >= 0.5 and >= 20,000)"
        )
    if lean:
        lean_rates = [r["records"] / r["cpu_s"] for r in lean]
        ratios = [s / b for s, b in zip(sync_rates, lean_rates, strict=True)]
        print(
            f"lean baseline aiohttp + a batch per page: {median(lean_rates):,.0f} records per "
            f"CPU-s; ratio sync/lean {median(ratios):.2f} "
            f"(rounds {', '.join(f'{r:.2f}' for r in ratios)})"
        )


async def run(args: argparse.Namespace) -> None:
    print(
        f"machine: {platform.machine()} {platform.processor() or ''} "
        f"python {platform.python_version()}"
    )
    with infrastructure() as env:
        # Every topic exists before sync starts, as `backfill up` and compose make sure: its
        # followers of all partitions are ready only once the snapshot topic has them.
        await ensure_topics(env["KAFKA_BOOTSTRAP_SERVERS"])
        if args.only in ("all", "throughput"):
            await throughput_rounds(env, args)
        if args.only in ("all", "lateness"):
            late = await lateness(env, args.streams // 10, args.lateness_seconds, args.profile)
            report_lateness(args, late)


def report_lateness(args: argparse.Namespace, late: dict[str, Any]) -> None:
    """Lateness percentiles of the first runs and of the runs after them."""
    for name, values in (
        ("activation burst (first runs)", late["first"]),
        ("steady state (later runs)", late["later"]),
        ("settled (third runs and later)", late["settled"]),
    ):
        print(
            f"lateness, {args.streams:,} streams, {name}: n={len(values):,} "
            f"p50={percentile(values, 50):.3f}s p99={percentile(values, 99):.3f}s"
        )
    print(f"runs due but never started by the end (counted above): {late['never_started']:,}")
    print(
        f"sync CPU (process tree) during the lateness run: {late['cpu_s']:.1f} s "
        f"in {args.lateness_seconds:.0f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.sync")
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--installations", type=int, default=2)
    parser.add_argument("--streams", type=int, default=10_000)
    parser.add_argument("--lateness-seconds", type=float, default=150.0)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--only", choices=["all", "throughput", "lateness"], default="all")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", help="run sync under bench.profiled to FILE")
    args = parser.parse_args()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
