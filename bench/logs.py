"""`make bench-logs`: the logs service from Kafka to queryable, its queries, its live tail.

Starts its own embedded broker and Valkey (or uses KAFKA_BOOTSTRAP_SERVERS / REDIS_URL),
publishes `--lines` synthetic lines (default 1,000,000) to the log topic, then starts the
logs service (`python -m services.logs`, embedded chDB store in a temp dir) and measures:
- ingest: lines/s from the service's first consumer poll to the last line queryable;
- queries: p50/p99 of every console filter over HTTP, and directly against the store
  (after the service stopped), beside the same queries on SQLite with indexes;
- tail: publish → SSE delivery latency with `--subscribers` open tails.
127.0.0.1 only; bounded in count and time; stops every process it started, by pid.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sqlite3
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import msgspec
from redis.asyncio import Redis

from bench.ingress import infrastructure, start, stop, wait_until
from bench.logs_data import (
    INSTALLATIONS,
    WORKSPACE,
    console_filters,
    percentiles,
    sqlite_load,
    sqlite_query,
    synthetic_lines,
)
from cli.embedded import free_port
from contracts.logs import ExtensionLogLine
from contracts.topics import EXTENSION_LOGS
from services.base.auth import Principal, new_token, token_digest, token_key
from services.base.kafka import create_producer, ensure_topics
from services.base.settings import InfraSettings
from services.logs.service.queries import LogFilter
from services.logs.store.clickhouse import ClickHouse
from services.logs.store.lines import LogLineStore

MARKER = "bench-end-marker"


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
    for line in [*synthetic_lines(lines), *markers]:
        pending.append(await EXTENSION_LOGS.send(producer, line))
        if len(pending) >= 20_000:
            await asyncio.gather(*pending)
            pending.clear()
    await asyncio.gather(*pending)
    elapsed = time.perf_counter() - started
    await producer.stop()
    return lines / elapsed


async def wait_queryable(client: httpx.AsyncClient, base: str, timeout: float) -> float:
    """Until every installation's end marker is queryable (each partition fully stored)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = await client.get(
            f"{base}/v1/extensions/helpdesk/logs", params={"q": MARKER, "since": time.time() - 3600}
        )
        if response.status_code == 200 and len(response.json()["items"]) >= len(INSTALLATIONS):
            return time.perf_counter()
        await asyncio.sleep(0.05)
    raise SystemExit("bench: the lines did not become queryable in time")


async def http_queries(client: httpx.AsyncClient, base: str, repeat: int) -> dict[str, Any]:
    """p50/p99 per console filter over HTTP (newest 100)."""
    results: dict[str, Any] = {}
    for name, params in console_filters():
        url = f"{base}/v1/extensions/helpdesk/logs"
        for _ in range(3):
            await client.get(url, params=params)
        samples = []
        for _ in range(repeat):
            started = time.perf_counter()
            response = await client.get(url, params=params)
            samples.append(time.perf_counter() - started)
            assert response.status_code == 200, response.text
        results[name] = (*percentiles(samples), len(response.json()["items"]))
    first = (await client.get(f"{base}/v1/extensions/helpdesk/logs")).json()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        await client.get(
            f"{base}/v1/extensions/helpdesk/logs", params={"cursor": first["next_cursor"]}
        )
        samples.append(time.perf_counter() - started)
    results["page 2 (cursor)"] = (*percentiles(samples), 100)
    return results


async def tail_latency(
    client: httpx.AsyncClient, base: str, settings: InfraSettings, subscribers: int, lines: int
) -> tuple[float, float, int]:
    """Publish → SSE delivery latency over `subscribers` tails of one installation."""
    received: list[float] = []

    async def listen(ready: asyncio.Event) -> None:
        async with client.stream("GET", f"{base}/v1/installations/ins_tail/logs/stream") as stream:
            got = 0
            async for raw in stream.aiter_lines():
                if raw.startswith("event: ready"):
                    ready.set()
                if raw.startswith("data: ") and '"sent"' in raw:
                    line = json.loads(raw[6:])
                    received.append(time.time() - line["attrs"]["sent"])
                    got += 1
                    if got == lines:
                        return

    readies = [asyncio.Event() for _ in range(subscribers)]
    tasks = [asyncio.create_task(listen(r)) for r in readies]
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 30)
    producer = create_producer(settings, "bench-logs-tail")
    await producer.start()
    for n in range(lines):
        line = ExtensionLogLine(
            log_id=f"tail_{uuid.uuid4().hex}",
            at=time.time(),
            level="info",
            message=f"tail {n}",
            workspace_id=WORKSPACE,
            installation_id="ins_tail",
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
    p50, p99 = percentiles(received)
    return p50, p99, len(received)


async def store_queries(data_dir: str, repeat: int) -> dict[str, tuple[float, float]]:
    """The same filters straight against the store (no HTTP), the service stopped."""
    clickhouse = ClickHouse("", data_dir)
    await clickhouse.open()
    lines = LogLineStore(clickhouse, lambda _: 14)
    results = {}
    for name, params in console_filters():
        query = LogFilter(
            workspace_id=WORKSPACE,
            extension_key="helpdesk",
            **{"since": time.time() - 7 * 86_400, **params},
        )
        samples = []
        for n in range(repeat + 3):
            started = time.perf_counter()
            await lines.page(query, None, 100)
            if n >= 3:
                samples.append(time.perf_counter() - started)
        results[name] = percentiles(samples)
    await clickhouse.close()
    return results


def sqlite_baseline(lines: int, repeat: int) -> tuple[float, dict[str, tuple[float, float]]]:
    """SQLite with indexes: lines/s inserted, p50/p99 of the same filters."""
    with tempfile.TemporaryDirectory(prefix="bench-sqlite-") as home:
        path = str(Path(home) / "logs.db")
        rate = sqlite_load(path, list(synthetic_lines(lines)))
        db = sqlite3.connect(path)
        results = {}
        for name, params in console_filters():
            samples = []
            for n in range(repeat + 3):
                started = time.perf_counter()
                sqlite_query(db, "helpdesk", params)
                if n >= 3:
                    samples.append(time.perf_counter() - started)
            results[name] = percentiles(samples)
        db.close()
    return rate, results


async def run(args: argparse.Namespace, env: dict[str, str]) -> None:
    settings = InfraSettings(
        kafka_bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"], redis_url=env["REDIS_URL"]
    )
    await ensure_topics(settings.kafka_bootstrap_servers)
    token = await admin_token(env["REDIS_URL"])
    produced = await produce(settings, args.lines)
    print(f"produced {args.lines:,} lines at {produced:,.0f} lines/s (acks=all)")
    with tempfile.TemporaryDirectory(prefix="bench-logs-store-") as data_dir:
        port = free_port()
        service_env = {
            **env,
            "LOGS_PORT": str(port),
            "LOGS_DATA_DIR": data_dir,
            "LOGS_GROUP_ID": f"bench-{uuid.uuid4().hex[:8]}",
        }
        base = f"http://127.0.0.1:{port}"
        launched = time.perf_counter()
        service = start(["-m", "services.logs"], service_env)
        try:
            await asyncio.to_thread(wait_until, f"{base}/readyz", None, 120)
            ready = time.perf_counter()
            headers = {"authorization": f"Bearer {token}"}
            async with httpx.AsyncClient(headers=headers, timeout=60) as client:
                done = await wait_queryable(client, base, 900)
                total = args.lines + len(INSTALLATIONS)
                print(
                    f"ingest: {total / (done - ready):,.0f} lines/s from ready to queryable "
                    f"({total / (done - launched):,.0f} lines/s including start-up)"
                )
                over_http = await http_queries(client, base, args.queries)
                tail = await tail_latency(client, base, settings, args.subscribers, args.tail_lines)
        finally:
            stop(service)
        direct = await store_queries(data_dir, args.queries)
    sqlite_rate, sqlite = sqlite_baseline(args.lines, args.queries)
    print(f"baseline: SQLite with indexes inserts {sqlite_rate:,.0f} lines/s (batches of 5,000)")
    print(f"\nqueries over {args.lines:,} lines, newest 100, {args.queries} runs each (ms)")
    print(
        f"{'filter':<24}{'rows':>6}{'http p50':>10}{'http p99':>10}{'store p50':>10}"
        f"{'store p99':>10}{'sqlite p50':>11}{'sqlite p99':>11}"
    )
    for name, (p50, p99, rows) in over_http.items():
        d50, d99 = direct.get(name, (float("nan"), float("nan")))
        s50, s99 = sqlite.get(name, (float("nan"), float("nan")))
        print(
            f"{name:<24}{rows:>6}{p50:>10.1f}{p99:>10.1f}{d50:>10.1f}{d99:>10.1f}"
            f"{s50:>11.1f}{s99:>11.1f}"
        )
    worst = max(p99 for _, p99, _ in over_http.values())
    print(f"worst http p99: {worst:.1f} ms (target <= 50)")
    print(
        f"tail: {args.subscribers} subscribers x {args.tail_lines} lines, publish -> SSE "
        f"p50 {tail[0]:.1f} ms, p99 {tail[1]:.1f} ms ({tail[2]} deliveries)"
    )
    print(f"machine: {platform.machine()}, {os.cpu_count()} cpus, {platform.platform()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--subscribers", type=int, default=20)
    parser.add_argument("--tail-lines", type=int, default=200)

    args = parser.parse_args()
    with infrastructure() as env:
        asyncio.run(run(args, env))


if __name__ == "__main__":
    main()
