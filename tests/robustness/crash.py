"""The crash matrix's vocabulary (ledger, row) and its sync and logs rows.

A row names the process that dies, the load that keeps its busiest write path busy, and the
check against a record the service does not keep itself: what its clients saw acknowledged,
or what an upstream provider holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import msgspec
from litestar import Litestar

from contracts.ids import new_id
from contracts.logs import ExtensionLogLine
from contracts.topics import CANONICAL_RECORDS, EXTENSION_LOGS, INSTALLATION_SNAPSHOTS
from services.base.kafka import create_producer, publish, publish_all
from services.base.secrets_crypto import Keyring
from services.ingress.signatures import sign_stripe
from tests.harness import read_to_marker, read_topic, serving
from tests.robustness.live import WEBHOOK_SECRET, Suite, Workspace
from tests.sync.providers import PagedProvider


@dataclass
class Ledger:
    """What the service acknowledged, as its clients saw it; plus what was injected."""

    acked: list[str] = field(default_factory=list)
    answers: Counter[int | str] = field(default_factory=Counter)
    requests: int = 0
    faults: int = 0
    republished: int = 0  # at-least-once re-publications (same id), deduped by consumers
    sent: set[str] = field(default_factory=set)  # every item this scenario sent
    in_flight: set[str] = field(default_factory=set)  # sent, not yet answered
    exposed: set[str] = field(default_factory=set)  # in flight (or just answered) at a fault


@dataclass
class Crash:
    """One row of the matrix: which process dies, the load on its write path, the check."""

    service: str
    load: Callable[[Suite, Workspace, Ledger, asyncio.Event], Awaitable[None]]
    verify: Callable[[Suite, Workspace, Ledger], Awaitable[int]]
    # What the restarted process must pick up from Kafka where it left off: a change made
    # while it was down (its consumer resumes), checked after the restart.
    resume: Callable[[Suite, Workspace], Awaitable[Callable[[], Awaitable[None]]]] | None = None


@contextlib.contextmanager
def served_in_thread(app: Litestar) -> Iterator[str]:
    """Serve `app` from a thread and event loop of its own (the suite's fixtures block)."""
    ready: queue.Queue[str] = queue.Queue()
    done = threading.Event()

    async def main() -> None:
        async with serving(app) as url:
            ready.put(url)
            while not done.is_set():
                await asyncio.sleep(0.05)

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    try:
        yield ready.get(timeout=30)
    finally:
        done.set()
        thread.join(30)


# --- sync: a paged stream that keeps growing upstream, runs asked for continuously ---

GROWTH_PER_TICK = 5  # customers added upstream every 50 ms while the load runs
FIRST_SWEEP = 600  # six pages before the first kill can come


def upstream_of(suite: Suite) -> PagedProvider:
    provider = suite.fixtures["stripe"]
    assert isinstance(provider, PagedProvider)
    return provider


async def stripe_installed(suite: Suite, ws: Workspace) -> str:
    """The workspace's Stripe installation (created once), published as the registry would."""
    if "stripe_installation" in suite.fixtures:
        return str(suite.fixtures["stripe_installation"])
    from redis.asyncio import Redis

    from tests.connectors.conftest import CONNECTORS
    from tests.runtime.factories import deploy_directory, installation

    redis = Redis.from_url(suite.infra.redis_url)
    producer = create_producer(suite.infra.settings(), "crash-sync-snapshot")
    await producer.start()
    try:
        version = await deploy_directory(redis, CONNECTORS / "stripe")
        snapshot = installation(
            version,
            keyring=Keyring.parse(suite.infra.keyring),
            secrets={"api_key": upstream_of(suite).key},
            workspace_id=ws.id,
        )
        await publish(producer, INSTALLATION_SNAPSHOTS, snapshot)
    finally:
        await producer.stop()
        await redis.aclose()
    suite.fixtures["stripe_installation"] = snapshot.installation_id
    return snapshot.installation_id


async def paged_stream_runs(suite: Suite, ws: Workspace, ledger: Ledger, stop: asyncio.Event):
    """Customers keep arriving upstream; a run of the stream is asked for every half second
    (as an admin clicking Sync now would). The ledger's acknowledged list is what the provider
    handed to sync (its own record): each of those must end up on ingest.canonical.v1 once."""
    provider = upstream_of(suite)
    installation_id = await stripe_installed(suite, ws)
    provider.customers = max(provider.customers, FIRST_SWEEP)
    run = f"{suite.url('sync')}/v1/installations/{installation_id}/streams/customers/run"
    known: set[str] = set(ledger.acked)
    handed = 0
    asked = 0.0
    async with httpx.AsyncClient(timeout=5) as client:
        while not stop.is_set():
            provider.customers += GROWTH_PER_TICK
            for customer in provider.served_ids[handed:]:
                if customer not in known:
                    known.add(customer)
                    ledger.acked.append(customer)
            handed = len(provider.served_ids)
            ledger.requests = provider.requests
            if time.monotonic() - asked > 0.5:
                asked = time.monotonic()
                try:
                    answer = await client.post(run, headers=ws.auth())
                    ledger.answers[f"run {answer.status_code}"] += 1
                except httpx.HTTPError:
                    ledger.answers["run unreachable"] += 1
            await asyncio.sleep(0.05)


async def stream_records_once(suite: Suite, ws: Workspace, ledger: Ledger) -> int:
    """Every customer upstream (a superset of what was handed out) reaches ingest.canonical.v1
    exactly once: runs are asked for until the stream has caught up, then the topic is read
    again after a quiet second."""
    provider = upstream_of(suite)
    installation_id = await stripe_installed(suite, ws)
    everyone = {o["id"] for o in provider.objects()}
    assert set(ledger.acked) <= everyone
    run = f"{suite.url('sync')}/v1/installations/{installation_id}/streams/customers/run"

    def customers(records: list[Any]) -> list[str]:
        return [
            r.idempotency_key.split(":")[2]
            for r in records
            if r.installation_id == installation_id and r.idempotency_key.startswith("stripe:cus")
        ]

    async def ask_for_runs(client: httpx.AsyncClient) -> None:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                await client.post(run, headers=ws.auth())
            await asyncio.sleep(1.0)

    async with httpx.AsyncClient(timeout=5) as client:
        asking = asyncio.create_task(ask_for_runs(client))
        try:
            await read_topic(
                suite.infra.bootstrap_servers,
                CANONICAL_RECORDS,
                until=lambda ms: everyone <= set(customers(ms)),
                timeout=120,
            )
        finally:
            asking.cancel()
            await asyncio.gather(asking, return_exceptions=True)
    # Everything published before the marker (same key, so same partition) is read: no sleep.
    example = CANONICAL_RECORDS.decode(CANONICAL_RECORDS.example_path.read_bytes())
    marker = msgspec.structs.replace(
        example, installation_id=installation_id, idempotency_key=new_id("marker")
    )
    seen = await read_to_marker(suite.infra.bootstrap_servers, CANONICAL_RECORDS, marker, 60)
    ledger.requests = provider.requests  # list calls the provider answered, in all
    counts = Counter(customers(seen))
    twice = sorted(c for c, n in counts.items() if n > 1)
    assert not twice, f"customers published twice: {twice[:10]} ({len(twice)} in all)"
    return len(everyone)


# --- logs: a flood of log lines on extensions.logs.v1, stored while the process dies ---

LINES_PER_BATCH = 50


async def log_line_flood(suite: Suite, ws: Workspace, ledger: Ledger, stop: asyncio.Event):
    """Batches of lines produced with acks=all, as the runtime publishes them; the ledger holds
    every line the broker acknowledged (the logs service owes each one a stored row)."""
    job = suite.fixtures.setdefault("log_job", f"crash-{os.urandom(3).hex()}")
    producer = create_producer(suite.infra.settings(), "crash-log-flood")
    await producer.start()
    try:
        n = 0
        while not stop.is_set():
            lines = [
                ExtensionLogLine(
                    log_id=new_id("log"),
                    at=time.time(),
                    level="info",
                    message=f"crash line {n + i}",
                    workspace_id=ws.id,
                    installation_id=ws.ids["installation_id"],
                    extension_key=ws.ids["key"],
                    version_id=ws.ids["version_id"],
                    invocation_id=new_id("inv"),
                    script_type="job",
                    script_name=job,
                    job=job,
                )
                for i in range(LINES_PER_BATCH)
            ]
            n += LINES_PER_BATCH
            ledger.requests += len(lines)
            try:
                await publish_all(producer, EXTENSION_LOGS, lines)
            except Exception:  # not acknowledged: owed nothing
                ledger.answers["not acked"] += len(lines)
                continue
            ledger.answers["acked"] += len(lines)
            ledger.acked.extend(line.log_id for line in lines)
            await asyncio.sleep(0.02)
    finally:
        await producer.stop()


async def lines_queryable_once(suite: Suite, ws: Workspace, ledger: Ledger) -> int:
    """Every acknowledged line is returned by the logs API, once; lines produced while the
    process was dead show its consumer group resumed where it had committed."""
    job = suite.fixtures["log_job"]
    wanted = set(ledger.acked)
    base = f"{suite.url('logs')}/v1/installations/{ws.ids['installation_id']}/logs"
    since = time.time() - 3600

    async def stored() -> Counter[str]:
        counts: Counter[str] = Counter()
        cursor: str | None = None
        async with httpx.AsyncClient(timeout=30) as client:
            while True:
                params: dict[str, Any] = {"job": job, "since": since, "limit": 1000}
                if cursor:
                    params["cursor"] = cursor
                page = await client.get(base, params=params, headers=ws.auth())
                assert page.status_code == 200, page.text
                body = page.json()
                counts.update(line["log_id"] for line in body["items"])
                cursor = body.get("next_cursor")
                if not cursor:
                    return counts

    deadline = time.monotonic() + 90
    counts = await stored()
    while not wanted <= set(counts) and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        counts = await stored()
    missing = wanted - set(counts)
    assert not missing, f"{len(missing)} acknowledged lines never stored"
    twice = [log_id for log_id, n in counts.items() if n > 1]
    assert not twice, f"lines returned twice: {twice[:10]} ({len(twice)} in all)"
    return len(wanted)


def stripe_request(event_id: str) -> dict[str, object]:
    """A signed Stripe `customer.created` delivery, as httpx request arguments."""
    body = msgspec.json.encode(
        {"id": event_id, "type": "customer.created", "data": {"object": {"id": event_id}}}
    )
    signature = sign_stripe(body, WEBHOOK_SECRET, int(time.time()))
    headers = {"stripe-signature": signature, "content-type": "application/json"}
    return {"content": body, "headers": headers}
