"""`make bench-logs`: the logs service from Kafka to queryable, its queries, its live tail.

Starts its own embedded broker and Valkey (or uses KAFKA_BOOTSTRAP_SERVERS / REDIS_URL),
publishes `--lines` synthetic lines (default 1,000,000) to the log topic once, then runs
`--rounds` rounds. Arms: this checkout's logs service, optionally the same service at
`--baseline REF` (a git ref, extracted to a temp dir and run with this environment), and
SQLite with indexes loaded with the same lines (in this process; no HTTP, so its figures
are the floor of a query, not a like-for-like service; whole words of `q` from an FTS5
index, see `bench/logs_data.py`). In every round, each service arm starts fresh
(`python -m services.logs`, its own chDB dir and consumer group; arm order alternates
between rounds) and is measured on:
- ingest: the clock starts when the service's `/readyz` first answers 200 (its consumers
  hold partitions; they may have stored some lines already, which flatters the rate a
  little; "incl. start-up" starts at process launch) and stops when the lines consumer
  group has committed every partition's last offset (a batch is committed only after its
  insert returned), checked by one query that finds every end marker over HTTP; each arm
  ingests alone, then both are restarted on their stores for the rest of the round;
- queries: the newest 100 of every console filter, `--queries` runs per filter per arm,
  arms interleaved request by request (A, B, SQLite, A, B, ...), p50/p99 per round; twice:
  the same request asked again (what a console refreshing asks; a service may answer it
  from a cache), then every request a page never asked before (the store's read);
- tail: `--subscribers` SSE tails of one installation, `--tail-lines` lines published 10 ms
  apart; publish → SSE latency, beside publish → a bare consumer of the topic (the broker's
  share of it).
Figures are medians over rounds; the load average is printed with each phase (the
machine may be shared: compare arms within a run). 127.0.0.1 only; bounded in count and
time; stops every process it started, by pid.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import msgspec
from aiokafka import AIOKafkaConsumer, TopicPartition
from redis.asyncio import Redis

from bench.ingress import ROOT, infrastructure, stop, wait_until
from bench.logs_data import (
    INSTALLATIONS,
    WORKSPACE,
    percentiles,
    sqlite_load,
    synthetic_lines,
)
from bench.logs_queries import query_round
from bench.logs_report import report
from cli.embedded import free_port
from contracts.installations import InstallationSnapshot
from contracts.logs import ExtensionLogLine
from contracts.topics import EXTENSION_LOGS, INSTALLATION_SNAPSHOTS
from services.base.auth import Principal, new_token, token_digest, token_key
from services.base.kafka import create_producer, ensure_topics, publish
from services.base.settings import InfraSettings

MARKER = "bench-end-marker"
TAIL_INSTALLATION = "ins_tail"


async def admin_token(redis_url: str) -> str:
    """A token of the benchmarked workspace, written the way the registry writes it."""
    token = new_token()
    principal = Principal(
        workspace_id=WORKSPACE, member_id="mem_bench", role="admin", token_id="tok_bench"
    )
    redis = Redis.from_url(redis_url)
    await redis.set(token_key(token_digest(token)), msgspec.json.encode(principal))
    await redis.aclose()
    return token


async def produce(settings: InfraSettings, lines: int) -> float:
    """Publish the synthetic lines, then one end marker per installation; lines/s produced."""
    producer = create_producer(settings, "bench-logs")
    await producer.start()
    started = time.perf_counter()
    pending: list[Any] = []
    markers = [
        ExtensionLogLine(
            log_id=f"marker_{i}",
            at=time.time(),
            level="info",
            message=MARKER,
            workspace_id=WORKSPACE,
            installation_id=i,
            extension_key="helpdesk",
            version_id="ver_1",
            invocation_id="inv_m",
            script_type="job",
            script_name="bench",
        )
        for i in INSTALLATIONS
    ]
    MARKERS_AT[0] = min(m.at for m in markers)
    for line in [*synthetic_lines(lines), *markers]:
        pending.append(await EXTENSION_LOGS.send(producer, line))
        if len(pending) >= 20_000:
            _note_ends(await asyncio.gather(*pending))
            pending.clear()
    _note_ends(await asyncio.gather(*pending))
    elapsed = time.perf_counter() - started
    await producer.stop()
    return lines / elapsed


def _note_ends(sent: list[Any]) -> None:
    """Keep each partition's next offset after the lines produced (what "all stored" is)."""
    for metadata in sent:
        key = (metadata.topic, metadata.partition)
        END_OFFSETS[key] = max(END_OFFSETS.get(key, 0), metadata.offset + 1)


async def wait_queryable(
    client: httpx.AsyncClient, base: str, bootstrap: str, group: str, timeout: float
) -> float:
    """When every line is stored: the lines group's committed offsets reach the ends of what
    was produced (the consumer commits a batch only after its insert returned, so a committed
    line is queryable), polled every 20 ms from the broker. Polling the service's API
    instead ran a chDB query every 50 ms beside the inserts it waited for (≈ 1 CPU-second in
    300,000 lines, measured with py-spy): the bench loaded the arm it measured. Then one
    request checks that every end marker is indeed queryable."""
    deadline = time.monotonic() + timeout
    # A member of the group that never subscribes: it reads the group's offsets, never joins.
    reader = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=f"{group}.lines", enable_auto_commit=False
    )
    await reader.start()
    partitions = [TopicPartition(topic, partition) for topic, partition in END_OFFSETS]
    try:
        while time.monotonic() < deadline:
            committed = [await reader.committed(tp) for tp in partitions]
            if all(
                (c or 0) >= END_OFFSETS[tp.topic, tp.partition]
                for tp, c in zip(partitions, committed, strict=True)
            ):
                stored = time.perf_counter()
                break
            await asyncio.sleep(0.02)
        else:
            raise SystemExit("bench: the lines were not stored in time")
    finally:
        await reader.stop()
    since = MARKERS_AT[0] - 1
    response = await client.get(
        f"{base}/v1/extensions/helpdesk/logs", params={"q": MARKER, "since": since}
    )
    if response.status_code != 200 or len(response.json()["items"]) < len(INSTALLATIONS):
        raise SystemExit(f"bench: committed but not queryable: {response.text[:300]}")
    return stored


async def install_all(settings: InfraSettings) -> None:
    """Snapshots of the benchmarked installations (installation routes answer 404 otherwise)."""
    producer = create_producer(settings, "bench-logs-snapshots")
    await producer.start()
    try:
        for installation_id in [*INSTALLATIONS, TAIL_INSTALLATION]:
            snapshot = InstallationSnapshot(
                installation_id=installation_id,
                workspace_id=WORKSPACE,
                extension_key="helpdesk",
                kind="extension",
                revision=time.time_ns(),
                state="active",
                updated_at=time.time(),
            )
            await publish(producer, INSTALLATION_SNAPSHOTS, snapshot)
    finally:
        await producer.stop()


def launch(source: Path, env: dict[str, str], store: tuple[str, str]) -> tuple[str, Any]:
    """`python -m services.logs` from `source` (this checkout or the extracted baseline) on
    `store` (data dir, consumer group): (base url, process) once it answers /readyz."""
    port = free_port()
    service_env = {
        **env,
        "PYTHONPATH": str(source),
        "LOGS_PORT": str(port),
        "LOGS_DATA_DIR": store[0],
        "LOGS_GROUP_ID": store[1],
    }
    return f"http://127.0.0.1:{port}", subprocess.Popen(
        [sys.executable, "-m", "services.logs"],
        env=service_env,
        cwd=source,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def ingest(
    client: httpx.AsyncClient, source: Path, env: dict[str, str], store: tuple[str, str]
) -> tuple[float, float]:
    """One service arm alone on a fresh store, stopped after: (lines/s, incl. start-up)."""
    launched = time.perf_counter()
    base, service = launch(source, env, store)
    try:
        await asyncio.to_thread(wait_until, f"{base}/readyz", None, 120)
        ready = time.perf_counter()
        done = await wait_queryable(client, base, env["KAFKA_BOOTSTRAP_SERVERS"], store[1], 900)
    finally:
        stop(service)
    total = LINES_TOTAL[0]
    return total / (done - ready), total / (done - launched)


LINES_TOTAL = [0]
MARKERS_AT = [0.0]  # when the end markers were made (their `at`)
END_OFFSETS: dict[tuple[str, int], int] = {}  # (topic, partition) -> next offset after the lines


async def tail_latency(
    client: httpx.AsyncClient, base: str, settings: InfraSettings, subscribers: int, lines: int
) -> tuple[float, float, float, float]:
    """Publish → SSE over `subscribers` tails of one installation, and publish → a bare
    consumer of the topic: (SSE p50, SSE p99, consumer p50, consumer p99) in ms."""
    received: list[float] = []
    consumed: list[float] = []
    run = uuid.uuid4().hex

    async def listen(ready: asyncio.Event) -> None:
        url = f"{base}/v1/installations/{TAIL_INSTALLATION}/logs/stream"
        async with client.stream("GET", url, params={"q": run}) as stream:
            got = 0
            async for raw in stream.aiter_lines():
                if raw.startswith("event: ready"):
                    ready.set()
                if raw.startswith("data: ") and '"sent"' in raw:
                    received.append(time.time() - json.loads(raw[6:])["attrs"]["sent"])
                    got += 1
                    if got == lines:
                        return

    async def bare_consumer(ready: asyncio.Event) -> None:
        consumer = AIOKafkaConsumer(
            EXTENSION_LOGS.name,
            bootstrap_servers=settings.kafka_bootstrap_servers,
            group_id=f"bench-probe-{run}",
            auto_offset_reset="latest",
            fetch_max_wait_ms=20,
        )
        await consumer.start()
        try:
            while not consumer.assignment():
                await asyncio.sleep(0.05)
            await consumer.seek_to_end()
            ready.set()
            while len(consumed) < lines:
                batch = await consumer.getmany(timeout_ms=100)
                for record in (r for part in batch.values() for r in part):
                    if run.encode() in (record.value or b""):
                        consumed.append(time.time() - json.loads(record.value)["attrs"]["sent"])
        finally:
            await consumer.stop()

    readies = [asyncio.Event() for _ in range(subscribers + 1)]
    tasks = [asyncio.create_task(listen(r)) for r in readies[:-1]]
    tasks.append(asyncio.create_task(bare_consumer(readies[-1])))
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 60)
    producer = create_producer(settings, "bench-logs-tail")
    await producer.start()
    for n in range(lines):
        line = ExtensionLogLine(
            log_id=f"tail_{uuid.uuid4().hex}",
            at=time.time(),
            level="info",
            message=f"tail {run} {n}",
            workspace_id=WORKSPACE,
            installation_id=TAIL_INSTALLATION,
            extension_key="helpdesk",
            version_id="ver_1",
            invocation_id="inv_t",
            script_type="hook",
            script_name="bench",
            attrs={"sent": time.time()},
        )
        await (await EXTENSION_LOGS.send(producer, line))
        await asyncio.sleep(0.01)
    await producer.stop()
    await asyncio.wait_for(asyncio.gather(*tasks), 60)
    return (*percentiles(received), *percentiles(consumed))


def baseline_source(ref: str, home: str) -> Path:
    """The tree of `ref` (git archive), to run the baseline service from."""
    target = Path(home) / "baseline"
    target.mkdir()
    archive = subprocess.run(["git", "archive", ref], cwd=ROOT, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target


async def run(args: argparse.Namespace, env: dict[str, str], home: str) -> None:
    settings = InfraSettings(
        kafka_bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"], redis_url=env["REDIS_URL"]
    )
    await ensure_topics(settings.kafka_bootstrap_servers)
    token = await admin_token(env["REDIS_URL"])
    await install_all(settings)
    produced = await produce(settings, args.lines)
    LINES_TOTAL[0] = args.lines + len(INSTALLATIONS)
    print(f"produced {args.lines:,} lines at {produced:,.0f} lines/s (acks=all)", flush=True)
    sources = {"current": ROOT}
    if args.baseline:
        sources["baseline"] = baseline_source(args.baseline, home)
    sqlite_path = str(Path(home) / "logs.db")
    sqlite_rate = sqlite_load(sqlite_path, list(synthetic_lines(args.lines)))
    db = sqlite3.connect(sqlite_path)
    print(f"SQLite with indexes: {sqlite_rate:,.0f} lines/s inserted (batches of 5,000)")
    ingests: dict[str, list[tuple[float, float]]] = {arm: [] for arm in sources}
    queries: dict[tuple[str, str], list[tuple[float, float, int]]] = {}
    first_asks: dict[tuple[str, str], list[tuple[float, float, int]]] = {}
    tails: dict[str, list[tuple[float, float, float, float]]] = {arm: [] for arm in sources}
    headers = {"authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(headers=headers, timeout=60) as client:
        for round_no in range(args.rounds):
            order = list(sources) if round_no % 2 == 0 else list(reversed(sources))
            stores = {
                arm: (tempfile.mkdtemp(prefix="store-", dir=home), f"bench-{uuid.uuid4().hex[:8]}")
                for arm in order
            }
            for arm in order:  # each arm ingests alone (nothing else of this bench running)
                rate, with_start = await ingest(client, sources[arm], env, stores[arm])
                ingests[arm].append((rate, with_start))
                print(
                    f"round {round_no + 1} {arm}: ingest {rate:,.0f} lines/s "
                    f"(load average {os.getloadavg()[0]:.1f})",
                    flush=True,
                )
            bases: dict[str, str] = {}
            running = []
            try:
                for arm in order:  # both again on their stores (same group: nothing to re-read)
                    base, service = launch(sources[arm], env, stores[arm])
                    running.append(service)
                    await asyncio.to_thread(wait_until, f"{base}/readyz", None, 120)
                    bases[arm] = base
                load = os.getloadavg()[0]
                for first_ask, figures in ((False, queries), (True, first_asks)):
                    measured = await query_round(client, bases, db, args.queries, first_ask)
                    for key, value in measured.items():
                        figures.setdefault(key, []).append(value)
                print(
                    f"round {round_no + 1}: queries done (load average {load:.1f} before, "
                    f"{os.getloadavg()[0]:.1f} after)",
                    flush=True,
                )
                for arm in order:
                    tail = await tail_latency(
                        client, bases[arm], settings, args.subscribers, args.tail_lines
                    )
                    tails[arm].append(tail)
                    print(
                        f"round {round_no + 1} {arm}: tail p50/p99 {tail[0]:.0f}/{tail[1]:.0f} "
                        f"(load average {os.getloadavg()[0]:.1f})",
                        flush=True,
                    )
            finally:
                for service in running:
                    stop(service)
    db.close()
    report(
        args,
        sources,
        ingests,
        {"asked again": queries, "first ask": first_asks},
        tails,
        sqlite_rate,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--subscribers", type=int, default=20)
    parser.add_argument("--tail-lines", type=int, default=200)
    parser.add_argument("--baseline", default="", help="git ref of a baseline arm, e.g. main")
    args = parser.parse_args()
    with infrastructure() as env, tempfile.TemporaryDirectory(prefix="bench-logs-") as home:
        asyncio.run(run(args, env, home))


if __name__ == "__main__":
    main()
