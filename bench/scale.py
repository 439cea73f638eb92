"""`make bench-scale`: the real sync scheduler with 100,000 installations × 5 streams, split
over 1, 2 and 4 sync replicas (processes on this machine).

Each replica process runs `services.sync.scheduler.Scheduler` as sync does, with:

- the partitions of `registry.installations.v1` a Kafka range assignor gives it (installation
  ids hashed as Kafka's default partitioner does), its snapshots handed over exactly as the
  snapshot consumer does (`partition_live`, then `snapshot_read` per installation);
- a stub runtime: a run does no page fetch and publishes nothing (it yields once and ends
  `ok`); the cost of real runs is bench/sync.py's figure;
- statuses as a replica taking over a running system finds them: each stream due next at a
  random point of its 300-second interval (steady state, not the activation burst), kept in
  memory (status writes are bench/sync.py's too);
- the real `SyncStore` on an embedded 3-node Valkey Cluster (its run-request scan each tick).

Printed per replica: its share (partitions, installations, streams), the time to take that
share over (every snapshot read and scheduled) and how late the runs that fell due meanwhile
started; then, after those, scheduling lateness p50/p99/max of the runs it started in the
measured window (a run's start minus its due time), runs/s, and resident memory per 10,000
installations (RSS after taking over minus before, divided by its share).

127.0.0.1 only; bounded in count and time; stops every process it started, by pid.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec
from aiokafka.partitioner import murmur2

from cli.embedded import free_port, start_valkey_cluster
from contracts.installations import InstallationSnapshot, VersionRef
from contracts.streams import StreamStatus
from contracts.topics import INSTALLATION_SNAPSHOTS
from sdk.bundle import digest_of, pack, version_id_of
from services.base.keys import create_redis
from services.base.snapshots import SnapshotView
from services.sync.budget import RequestBudget
from services.sync.runs import RunOutcome
from services.sync.scheduler import Scheduler
from services.sync.status import StatusChange, initial_status
from services.sync.store import SyncStore
from services.sync.targets import Target

EVERY_S = 300  # the Stripe connector's interval
STREAMS = 5
PARTITIONS = INSTALLATION_SNAPSHOTS.partitions


def partition_of(installation_id: str) -> int:
    """Kafka's default partitioner for a keyed record (murmur2, positive, modulo)."""
    return (murmur2(installation_id.encode()) & 0x7FFFFFFF) % PARTITIONS


def assigned(replica: int, replicas: int) -> list[int]:
    """Kafka's range assignor: consecutive partitions, the first ones one extra."""
    per, extra = divmod(PARTITIONS, replicas)
    start = replica * per + min(replica, extra)
    return list(range(start, start + per + (1 if replica < extra else 0)))


def version() -> VersionRef:
    """The ticker connector cut to 5 streams, each every 300 s."""
    archive, manifest = pack(Path(__file__).parent / "connectors" / "ticker")
    streams = [msgspec.structs.replace(s, every_seconds=EVERY_S) for s in manifest.streams]
    manifest = msgspec.structs.replace(manifest, streams=streams[:STREAMS])
    digest = digest_of(archive)
    return VersionRef(
        version_id=version_id_of(digest),
        digest=digest,
        label="1.0.0",
        deployed_at=0.0,
        deployed_by="mem_bench",
        manifest=manifest,
    )


class StubRunner:
    """A stub runtime: every run ends `ok` at once, with nothing fetched or published."""

    async def run(
        self, target: Target, snapshot: InstallationSnapshot, stopping: Any, then: Any
    ) -> Any:
        await asyncio.sleep(0)
        outcome = RunOutcome(state="ok")
        then(outcome)  # the scheduler's next due time (a real run stores it with its status)
        return outcome

    def backoff_s(self, failures: int) -> float:
        return 1.0

    async def close(self) -> None:
        return None


class SteadyBoard:
    """Statuses as a new owner finds them in steady state: due somewhere in the interval."""

    def __init__(self, seed: int) -> None:
        self.cache: dict[tuple[str, str], StreamStatus] = {}
        self.random = random.Random(seed)

    async def current(self, target: Target) -> StreamStatus:
        found = self.cache.get(target.key)
        if found is None:
            due = time.time() + self.random.uniform(0, target.every_s)
            found = msgspec.structs.replace(initial_status(target), state="ok", next_run_at=due)
            self.cache[target.key] = found
        return found

    async def load(self, installation_id: str, targets: list[Target]) -> None:
        return None  # `current` makes up each status

    async def update(self, target: Target, change: StatusChange) -> StreamStatus:
        status = msgspec.structs.replace(await self.current(target), **change.fields())
        self.cache[target.key] = status
        return status

    async def update_all(self, changes: list[tuple[Target, StatusChange]]) -> None:
        for target, change in changes:
            await self.update(target, change)

    async def flush(self, installation_ids: list[str]) -> None:
        return None  # nothing is published

    def forget(self, installation_id: str) -> None:
        for key in [k for k in self.cache if k[0] == installation_id]:
            del self.cache[key]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


async def replica(index: int, replicas: int, installations: int, window_s: float) -> dict[str, Any]:
    """One sync replica's scheduler: take its share over, then measure `window_s` seconds."""
    redis = create_redis(os.environ["REDIS_URL"])
    view = SnapshotView()
    scheduler = Scheduler(
        view=view,
        runner=StubRunner(),  # type: ignore[arg-type]
        store=SyncStore(redis, history_limit=10),
        board=SteadyBoard(index),  # type: ignore[arg-type]
        budget=RequestBudget(10.0, 10),
        max_concurrent=32,
        jitter_fraction=0.1,
    )
    view.listeners.append(scheduler.snapshot_changed)
    mine = assigned(index, replicas)
    ref = version()
    before = rss_mb()
    began = time.monotonic()
    for p in mine:
        await scheduler.partition_live(p)
    owned = 0
    for i in range(installations):
        installation_id = f"ins_{i:07d}"
        p = partition_of(installation_id)
        if p not in mine:
            continue
        owned += 1
        snapshot = InstallationSnapshot(
            installation_id=installation_id,
            workspace_id=f"ws_{i % 1000:04d}",
            extension_key="ticker",
            kind="connector",
            revision=1,
            state="active",
            active=ref,
            updated_at=0.0,
        )
        await view.apply(snapshot, p)
    takeover_s = time.monotonic() - began
    after = rss_mb()
    scheduler.lateness.clear()
    scheduler.start()
    await asyncio.sleep(takeover_s + 2.0)  # the runs that fell due while taking over start
    caught_up = list(scheduler.lateness)
    scheduler.lateness.clear()
    await asyncio.sleep(window_s)
    late = list(scheduler.lateness)
    await scheduler.stop()
    await redis.aclose()
    return {
        "replica": index,
        "partitions": mine,
        "installations": owned,
        "streams": len(scheduler.targets),
        "takeover_s": round(takeover_s, 1),
        "takeover_late_max_s": round(max(caught_up, default=0.0), 1),
        "runs": len(late),
        "runs_per_s": round(len(late) / window_s),
        "late_p50_s": round(percentile(late, 0.5), 3),
        "late_p99_s": round(percentile(late, 0.99), 3),
        "late_max_s": round(max(late, default=0.0), 3),
        "rss_mb": round(after),
        "mb_per_10k": round((after - before) / max(owned, 1) * 10_000, 1),
    }


def run_replicas(replicas: int, installations: int, window_s: float, env: dict[str, str]):
    """Start `replicas` processes at once; their results, in replica order."""
    processes = [
        subprocess.Popen(
            [
                *(sys.executable, "-m", "bench.scale", "--replica", str(i)),
                *("--replicas", str(replicas), "--installations", str(installations)),
                *("--window", str(window_s)),
            ],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(replicas)
    ]
    results = []
    for process in processes:
        out, _ = process.communicate(timeout=1800)
        assert process.returncode == 0, f"replica exited with {process.returncode}"
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--installations", type=int, default=100_000)
    parser.add_argument("--window", type=float, default=45.0, help="measured seconds")
    parser.add_argument("--rounds", type=int, default=1, help="1, 2, 4 replicas per round")
    parser.add_argument("--replica", type=int, default=-1, help=argparse.SUPPRESS)
    parser.add_argument("--replicas", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.replica >= 0:
        result = asyncio.run(replica(args.replica, args.replicas, args.installations, args.window))
        print(json.dumps(result))
        return
    home = Path(tempfile.mkdtemp(prefix="backfill-bench-scale-"))
    cluster = start_valkey_cluster([free_port() for _ in range(3)], home / "vk", home)
    env = {**os.environ, "REDIS_URL": cluster.url, "LOG_LEVEL": "WARNING"}
    print(
        f"{args.installations:,} installations × {STREAMS} streams every {EVERY_S} s, "
        f"{PARTITIONS} snapshot partitions, window {args.window:.0f} s; "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs (shared)"
    )
    try:
        for round_no in range(args.rounds):
            for replicas in (1, 2, 4):  # arms interleaved round by round
                for r in run_replicas(replicas, args.installations, args.window, env):
                    share = r["installations"] / args.installations
                    print(
                        f"round {round_no + 1} replicas {replicas} #{r['replica']}: partitions "
                        f"{r['partitions']} share {share:.0%} ({r['installations']:,} inst, "
                        f"{r['streams']:,} streams) takeover {r['takeover_s']} s (runs due "
                        f"meanwhile up to {r['takeover_late_max_s']} s late); then "
                        f"{r['runs']:,} runs ({r['runs_per_s']:,}/s), lateness p50 "
                        f"{r['late_p50_s']} s p99 {r['late_p99_s']} s max {r['late_max_s']} s, "
                        f"RSS {r['rss_mb']} MB, {r['mb_per_10k']} MB per 10,000 installations",
                        flush=True,
                    )
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
