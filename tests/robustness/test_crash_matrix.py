"""Crash matrix: SIGKILL each service in the middle of its busiest write path under load,
restart it, and check what was acknowledged against what reached Kafka.

Every scenario keeps its own record of what the service acknowledged (the 202s of a webhook
storm, the 2xx of registry writes) — independent of the service's own state — and checks it
against the topics read from the beginning: nothing acknowledged is missing, nothing is
duplicated per idempotency key. The services run as real processes (`python -m
services.<name>`) on a private broker and Valkey, so a killed process dies as it would in
production. Adding a service is one `Crash` entry in MATRIX.

Rows: ingress mid-delivery storm, registry mid-outbox relay, sync mid-page (a stream whose
provider keeps growing, runs asked for continuously: every customer upstream reaches
ingest.canonical.v1 exactly once) and logs mid-ingest (a flood of log lines: every line the
broker acknowledged is returned by the logs API once; lines sent while it was dead prove its
consumer group resumed). The rows' loads and checks live in tests/robustness/crash.py.

Budget: BACKFILL_CRASH_ROUNDS kills per scenario (1 under `make test`, more under `make crash`).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator

import httpx
import pytest

from contracts.ids import new_id
from contracts.topics import AUDIT_EVENTS, CANONICAL_RECORDS, INSTALLATION_SNAPSHOTS
from tests.harness import embedded_infra, read_topic
from tests.robustness.crash import (
    Crash,
    Ledger,
    lines_queryable_once,
    log_line_flood,
    paged_stream_runs,
    served_in_thread,
    stream_records_once,
    stripe_request,
)
from tests.robustness.live import (
    WEBHOOK_SECRET,
    Suite,
    Workspace,
    restart,
    running_suite,
    seed_workspace,
    wait_until_ready,
)
from tests.sync.providers import PagedProvider

ROUNDS = int(os.environ.get("BACKFILL_CRASH_ROUNDS", "1"))
ACKS_PER_ROUND = 60


@pytest.fixture(scope="module")
def crash_suite() -> Iterator[Suite]:
    """Every service as a process on a broker and Valkey of this module only; sync polls a
    Stripe-like provider (served from a thread) for api.stripe.com."""
    provider = PagedProvider(key=new_id("sk_test"), customers=0, delay_s=0.02)
    with (
        embedded_infra() as infra,
        served_in_thread(provider.app()) as upstream,
        running_suite(
            infra,
            ("registry", "ingress", "sync", "logs"),
            SYNC_HOST_OVERRIDES=f"api.stripe.com={upstream}",
            SYNC_LEASE_TTL_S="4",  # a killed replica's lease is free again soon
            SYNC_DEDUPE_PENDING_S="5",
            # A delivery in flight at a kill is answered 503 until its claim goes stale (the
            # claim's wait plus this), then found on the topic: short, so the storm's lanes
            # retrying those deliveries are not held past the round's deadline.
            INGRESS_DEDUPE_PENDING_S="8",
        ) as suite,
    ):
        suite.fixtures["stripe"] = provider
        suite.workspaces["crash"] = seed_workspace(suite, "crash")
        yield suite


# --- ingress: a storm of webhook deliveries, with provider-style retries and duplicates ---


async def webhook_storm(suite: Suite, ws: Workspace, ledger: Ledger, stop: asyncio.Event) -> None:
    """8 senders; unanswered or 5xx deliveries are retried (as providers do); every 5th send
    repeats an acknowledged event (a duplicate delivery)."""
    url = ws.ids["hook_url"]
    counter = iter(range(10**9))

    async def sender(client: httpx.AsyncClient, lane: int) -> None:
        pending: list[str] = []
        while not stop.is_set():
            n = next(counter)
            if pending:
                event_id = pending.pop()
            elif n % 5 == 4 and ledger.acked:
                event_id = ledger.acked[n % len(ledger.acked)]
            else:
                event_id = f"evt_crash_{lane}_{n}"
            ledger.requests += 1
            ledger.sent.add(event_id)
            ledger.in_flight.add(event_id)
            try:
                response = await client.post(url, **stripe_request(event_id), timeout=10)
            except httpx.HTTPError:
                pending.append(event_id)
                await asyncio.sleep(0.05)
                continue
            finally:
                ledger.in_flight.discard(event_id)
            ledger.answers[response.status_code] += 1
            if response.status_code == 202:
                if event_id not in ledger.acked:
                    ledger.acked.append(event_id)
            else:
                pending.append(event_id)
                await asyncio.sleep(0.05)

    async with httpx.AsyncClient() as client:
        await asyncio.gather(*(sender(client, lane) for lane in range(8)))


async def canonical_records_once(suite: Suite, ws: Workspace, ledger: Ledger) -> int:
    """Every 202'd event has its record on ingest.canonical.v1, and no idempotency key appears
    twice, not even for deliveries in flight at a SIGKILL: a claim left by a killed process is
    checked against the topic by the retry (docs/reliability.md). Only `ledger.exposed` may
    repeat: deliveries refused while the broker was frozen, whose timed-out publish the broker
    may still have written after the retry looked."""
    installation_id = ws.ids["installation_id"]
    wanted = {f"stripe:event:{e}:0" for e in ledger.acked}
    seen = await read_topic(
        suite.infra.bootstrap_servers,
        CANONICAL_RECORDS,
        until=lambda ms: (
            wanted <= {m.idempotency_key for m in ms if m.installation_id == installation_id}
        ),
        timeout=60,
    )
    mine = {f"stripe:event:{e}:0": e for e in ledger.sent | set(ledger.acked)}
    keys = Counter(
        m.idempotency_key
        for m in seen
        if m.installation_id == installation_id and m.idempotency_key in mine
    )
    duplicated = {mine[k] for k, n in keys.items() if n > 1}
    assert duplicated <= ledger.exposed, (
        f"records duplicated although not in flight at a fault: {duplicated - ledger.exposed}"
    )
    ledger.republished += sum(n - 1 for n in keys.values())
    return len(wanted)


# --- registry: installs and member additions, relayed by the outbox ---


async def registry_writes(suite: Suite, ws: Workspace, ledger: Ledger, stop: asyncio.Event) -> None:
    """4 writers adding members (each 201 owes an audit event on registry.audit.v1)."""
    url = f"{suite.url('registry')}/v1/members"
    counter = iter(range(10**9))

    async def writer(client: httpx.AsyncClient) -> None:
        while not stop.is_set():
            ledger.requests += 1
            try:
                response = await client.post(
                    url, json={"email": f"m{next(counter)}@example.com"}, headers=ws.auth()
                )
            except httpx.HTTPError:
                await asyncio.sleep(0.05)
                continue
            ledger.answers[response.status_code] += 1
            if response.status_code == 201:
                ledger.acked.append(response.json()["id"])
            else:
                await asyncio.sleep(0.05)

    async with httpx.AsyncClient(timeout=10) as client:
        await asyncio.gather(*(writer(client) for _ in range(4)))


async def audit_events_relayed(suite: Suite, ws: Workspace, ledger: Ledger) -> int:
    """Every acknowledged member addition reached registry.audit.v1, once; and the
    installation snapshot is on registry.installations.v1 (republished at start)."""
    wanted = set(ledger.acked)
    seen = await read_topic(
        suite.infra.bootstrap_servers,
        AUDIT_EVENTS,
        until=lambda ms: (
            wanted
            <= {m.target for m in ms if m.workspace_id == ws.id and m.action == "MemberAdded"}
        ),
        timeout=60,
    )
    # The outbox is at-least-once: a relay killed (or timed out) between the broker's ack and
    # trimming the outbox publishes that entry again on restart, with the same event_id, which
    # consumers dedupe on. A change must never appear as two different events.
    members = [m for m in seen if m.workspace_id == ws.id and m.action == "MemberAdded"]
    events_per_member: dict[str, set[str]] = {}
    for m in members:
        events_per_member.setdefault(m.target, set()).add(m.event_id)
    assert all(len(ids) == 1 for ids in events_per_member.values()), "one change, two events"
    ledger.republished += len(members) - len({m.event_id for m in members})
    await read_topic(
        suite.infra.bootstrap_servers,
        INSTALLATION_SNAPSHOTS,
        until=lambda ms: any(m.installation_id == ws.ids["installation_id"] for m in ms),
        timeout=30,
    )
    return len(wanted)


async def installed_while_ingress_was_down(
    suite: Suite, ws: Workspace
) -> Callable[[], Awaitable[None]]:
    """Install another connector while ingress is dead; the restarted ingress must serve it
    (its snapshot follower resumes from the topic)."""
    from tests.robustness.live import deploy_recorder, wait_served

    created = await asyncio.to_thread(
        deploy_recorder, suite, ws, "stripe_signature", WEBHOOK_SECRET
    )

    async def check() -> None:
        await asyncio.to_thread(wait_served, suite, ws, created["installation_id"])

    return check


MATRIX = {
    "ingress mid-delivery storm": Crash(
        "ingress", webhook_storm, canonical_records_once, installed_while_ingress_was_down
    ),
    "registry mid-outbox relay": Crash("registry", registry_writes, audit_events_relayed),
    "sync mid-page": Crash("sync", paged_stream_runs, stream_records_once),
    "logs mid-ingest": Crash("logs", log_line_flood, lines_queryable_once),
}


@pytest.mark.parametrize("name", sorted(MATRIX))
async def test_sigkill_mid_write_loses_and_duplicates_nothing_acknowledged(
    crash_suite: Suite, name: str
) -> None:
    scenario = MATRIX[name]
    ws = crash_suite.workspaces["crash"]
    ledger = Ledger()
    stop = asyncio.Event()
    load = asyncio.create_task(scenario.load(crash_suite, ws, ledger, stop))
    try:
        for _ in range(ROUNDS):
            target = len(ledger.acked) + ACKS_PER_ROUND
            deadline = time.monotonic() + 60
            while len(ledger.acked) < target and time.monotonic() < deadline:
                assert not load.done(), load
                await asyncio.sleep(0.01)
            assert len(ledger.acked) >= target, (name, ledger.answers)
            service = crash_suite.services[scenario.service]
            os.kill(service.process.pid, signal.SIGKILL)  # mid-write: the load never paused
            ledger.faults += 1
            # Nothing is exposed: a record acknowledged by the broker just before the kill
            # (confirm not yet written) is found on the topic by the retry's claim, so even
            # the deliveries in flight here must not be published twice.
            await asyncio.to_thread(service.process.wait, 10)
            resumed = await scenario.resume(crash_suite, ws) if scenario.resume else None
            crash_suite.services[scenario.service] = restarted = restart(service)
            await asyncio.to_thread(wait_until_ready, restarted)
            if resumed is not None:
                await resumed()
        target = len(ledger.acked) + ACKS_PER_ROUND  # it works again after the restart
        deadline = time.monotonic() + 60
        while len(ledger.acked) < target and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert len(ledger.acked) >= target, (name, ledger.answers)
    finally:
        stop.set()
        await asyncio.wait_for(load, 60)
    checked = await scenario.verify(crash_suite, ws, ledger)
    print(
        f"\ncrash {name}: {ledger.requests} requests, {ledger.faults} SIGKILL, "
        f"{checked} acknowledged records checked, answers {dict(ledger.answers)}, "
        f"republished (same key or id) {ledger.republished}, losses 0"
    )


FREEZE_S = 8.0  # longer than every client timeout: producer 5 s, Redis socket 5 s


@pytest.mark.parametrize("server", ["broker", "valkey"])
async def test_a_frozen_server_gives_503s_never_a_202_and_recovery_needs_no_restart(
    crash_suite: Suite, server: str
) -> None:
    ws = crash_suite.workspaces["crash"]
    frozen = getattr(crash_suite.infra, server)
    if frozen is None:
        pytest.skip("needs the embedded broker and Valkey to freeze")
    pids = {name: s.process.pid for name, s in crash_suite.services.items()}
    registry, ingress = crash_suite.url("registry"), crash_suite.url("ingress")
    during: Counter[str] = Counter()
    accepted: list[str] = []
    refused: list[str] = []
    committed: list[str] = []
    # No kept-alive connections: a request waits out the freeze's timeouts (≈ 5 s) while the
    # previous one's connection sits idle, and uvicorn closes idle connections after 5 s: a
    # reused one could be closed under the next request (a ReadError, not an answer).
    no_reuse = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=30, limits=no_reuse) as client:
        frozen.pause()
        try:
            started = time.monotonic()
            n = 0
            while time.monotonic() - started < FREEZE_S:
                n += 1
                event_id = f"evt_frozen_{server}_{n}_{os.urandom(3).hex()}"
                delivery, member, alive = await asyncio.gather(
                    client.post(ws.ids["hook_url"], **stripe_request(event_id)),
                    client.post(
                        f"{registry}/v1/members",
                        json={"email": f"{event_id}@example.com"},
                        headers=ws.auth(),
                    ),
                    client.get(f"{ingress}/healthz"),
                )
                during[f"ingress {delivery.status_code}"] += 1
                refused.append(event_id)  # 503: it may still land once the broker thaws
                during[f"registry {member.status_code}"] += 1
                during[f"healthz {alive.status_code}"] += 1
                assert delivery.status_code == 503, (server, delivery.text)
                assert member.status_code in (201, 503), (server, member.text)
                if member.status_code >= 500:
                    assert member.json()["error"]["code"] == "unavailable"
                else:
                    committed.append(member.json()["id"])  # owed to Kafka once it thaws
                assert alive.status_code == 200  # not stuck: the process still answers
        finally:
            frozen.resume()

        deadline = time.monotonic() + 60
        recovered = False
        while time.monotonic() < deadline and not recovered:
            event_id = f"evt_thawed_{server}_{os.urandom(3).hex()}"
            delivery = await client.post(ws.ids["hook_url"], **stripe_request(event_id))
            member = await client.post(
                f"{registry}/v1/members",
                json={"email": f"{event_id}@example.com"},
                headers=ws.auth(),
            )
            if delivery.status_code == 202:
                accepted.append(event_id)
            recovered = delivery.status_code == 202 and member.status_code == 201
            if not recovered:
                await asyncio.sleep(0.2)
        assert recovered, (server, during)

    assert {name: s.process.pid for name, s in crash_suite.services.items()} == pids
    await canonical_records_once(
        crash_suite,
        ws,
        Ledger(acked=accepted, sent=set(refused) | set(accepted), exposed=set(refused)),
    )
    await audit_events_relayed(crash_suite, ws, Ledger(acked=committed))
    print(f"\nfreeze {server} {FREEZE_S}s: answers during the freeze {dict(during)}")


async def test_a_restarted_ingress_answers_503_not_404_until_its_view_is_loaded(
    crash_suite: Suite,
) -> None:
    """Found by the storm above: deliveries reaching a restarted ingress before it had read
    the snapshot topic were answered 404 (a provider may disable the URL); now 503."""
    broker = crash_suite.infra.broker
    if broker is None:
        pytest.skip("needs the embedded broker to freeze")
    ws = crash_suite.workspaces["crash"]
    from tests.robustness.live import start_service, stop

    broker.pause()  # the new replica cannot read the snapshot topic yet
    second = start_service("ingress", crash_suite.infra, crash_suite.home)
    try:
        hook = ws.ids["hook_url"].replace(crash_suite.url("ingress"), second.url)
        async with httpx.AsyncClient(timeout=10) as client:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if (await client.get(f"{second.url}/healthz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    await asyncio.sleep(0.2)
            answer = await client.post(hook, **stripe_request(f"evt_loading_{os.urandom(3).hex()}"))
            assert answer.status_code == 503, answer.text
            assert (await client.get(f"{second.url}/readyz")).status_code == 503
    finally:
        broker.resume()
        await asyncio.to_thread(stop, second)
