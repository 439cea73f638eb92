"""Two replicas of each service on a 3-node Valkey Cluster; one of each SIGKILLed mid-load.

Each test drives a workload through both replicas, kills one replica with SIGKILL while the
load runs (the load never pauses: the balancer skips the dead one, clients retry what was not
answered), and checks against its own ledger, not the services' state: nothing acknowledged
is lost, nothing is duplicated. The survivor's takeover time is measured and printed (a
figure, not a threshold: speed lives in docs/scaling.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import statistics
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx

from contracts.topics import AUDIT_EVENTS, CANONICAL_RECORDS
from tests.harness import read_topic
from tests.replicas.conftest import LOAD, ReplicaSuite
from tests.replicas.sync_load import install_streams, records_once, request_runs
from tests.robustness.crash import Ledger
from tests.robustness.live import WEBHOOK_SECRET, deploy_recorder
from tests.robustness.test_crash_matrix import (
    audit_events_relayed,
    canonical_records_once,
    webhook_storm,
)


async def until(condition: Callable[[], bool], what: str, timeout: float = 90) -> float:
    """Wait until `condition()` holds; the monotonic time it first did."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout}s"
        await asyncio.sleep(0.01)
    return time.monotonic()


def kill(suite: ReplicaSuite, service: str, index: int = 0) -> float:
    """SIGKILL one replica by pid; the kill's monotonic time."""
    replica = suite.replicas[service][index]
    os.kill(replica.process.pid, signal.SIGKILL)
    killed = time.monotonic()
    replica.process.wait(10)
    return killed


async def test_webhooks_over_both_ingress_replicas_one_record_per_key_with_one_killed(
    replicas: ReplicaSuite,
) -> None:
    ws, balancer = replicas.workspace, replicas.balancers["ingress"]
    ledger, stop = Ledger(), asyncio.Event()
    load = asyncio.create_task(webhook_storm(replicas, ws, ledger, stop))
    try:
        await until(lambda: len(ledger.acked) >= LOAD, "the first acknowledgements")
        spread = dict(balancer.served)
        exposed = set(ledger.in_flight)  # in flight at the kill, on either replica
        killed = kill(replicas, "ingress")
        before = len(ledger.acked)
        first = await until(lambda: len(ledger.acked) > before, "a 202 after the kill")
        caught_up = await until(lambda: exposed <= set(ledger.acked), "in-flight deliveries")
        await until(lambda: len(ledger.acked) >= before + LOAD, "the load after the kill")
    finally:
        stop.set()
        await asyncio.wait_for(load, 60)
    assert len([b for b, n in spread.items() if n]) == 2, f"one replica idle: {spread}"
    checked = await canonical_records_once(replicas, ws, ledger)
    assert ledger.republished == 0, f"{ledger.republished} idempotency keys published twice"
    print(
        f"\nreplicas ingress ×2: {ledger.requests} deliveries sent, {checked} acknowledged "
        f"and stored, lost 0, duplicated 0; answers {dict(ledger.answers)}; "
        f"spread before the kill {sorted(spread.values())}; takeover after SIGKILL: first "
        f"202 {first - killed:.2f} s, every delivery in flight at the kill ({len(exposed)}) "
        f"acknowledged {caught_up - killed:.2f} s"
    )


async def test_registry_writes_on_both_replicas_lose_no_update_with_one_killed(
    replicas: ReplicaSuite,
) -> None:
    """Members added and one secret rotated concurrently through both replicas: every rotation
    is a read-modify-write of one installation record (WATCH on the workspace clock, in the
    workspace's slot), so a lost update shows as two writers told the same revision."""
    ws = replicas.workspace
    target = await asyncio.to_thread(
        deploy_recorder, replicas, ws, "stripe_signature", WEBHOOK_SECRET
    )
    secret_url = (
        f"{replicas.url('registry')}/v1/installations/{target['installation_id']}"
        "/secrets/webhook_secret"
    )
    members, revisions, stop = Ledger(), Ledger(), asyncio.Event()
    acked_at: list[float] = []

    async def writer(client: httpx.AsyncClient, lane: int) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            rotate = n % 2 == 0
            ledger = revisions if rotate else members
            ledger.requests += 1
            try:
                if rotate:
                    answer = await client.put(
                        secret_url, json={"value": f"whsec_{lane}_{n}"}, headers=ws.auth()
                    )
                else:
                    answer = await client.post(
                        f"{replicas.url('registry')}/v1/members",
                        json={"email": f"r{lane}-{n}-{os.urandom(2).hex()}@example.com"},
                        headers=ws.auth(),
                    )
            except httpx.HTTPError:
                ledger.answers["unanswered"] += 1
                continue
            ledger.answers[answer.status_code] += 1
            if answer.status_code in (200, 201):
                body = answer.json()
                ledger.acked.append(str(body["revision"]) if rotate else body["id"])
                acked_at.append(time.monotonic())
            else:
                await asyncio.sleep(0.05)

    async with httpx.AsyncClient(timeout=30) as client:
        lanes = [asyncio.create_task(writer(client, lane)) for lane in range(4)]
        try:
            await until(lambda: len(acked_at) >= LOAD, "the first writes")
            spread = dict(replicas.balancers["registry"].served)
            killed = kill(replicas, "registry")
            before = len(acked_at)
            first = await until(lambda: len(acked_at) > before, "a write after the kill")
            await until(lambda: len(acked_at) >= before + LOAD, "the load after the kill")
        finally:
            stop.set()
            await asyncio.gather(*lanes)
    assert len([b for b, n in spread.items() if n]) == 2, f"one replica idle: {spread}"
    told = Counter(revisions.acked)
    assert all(n == 1 for n in told.values()), f"two writers told one revision: {told}"
    await audit_events_relayed(replicas, ws, members)
    rotated = await rotations_relayed(replicas, target["installation_id"], set(told))
    print(
        f"\nreplicas registry ×2: {members.requests + revisions.requests} writes sent, "
        f"{len(members.acked)} members and {len(told)} rotations acknowledged, all relayed "
        f"({rotated} SecretRotated events), lost 0, duplicated 0 (republished with the same "
        f"id: {members.republished}); answers {dict(members.answers + revisions.answers)}; "
        f"spread {sorted(spread.values())}; takeover after SIGKILL: first acknowledged write "
        f"{first - killed:.2f} s"
    )


async def rotations_relayed(suite: ReplicaSuite, installation_id: str, told: set[str]) -> int:
    """Every acknowledged revision has one SecretRotated event on registry.audit.v1."""

    def rotations(events: list[Any]) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for e in events:
            if e.action == "SecretRotated" and e.target == installation_id:
                found.setdefault(str(e.details.get("revision")), set()).add(e.event_id)
        return found

    seen = await read_topic(
        suite.infra.bootstrap_servers,
        AUDIT_EVENTS,
        until=lambda ms: told <= set(rotations(ms)),
        timeout=60,
    )
    found = rotations(seen)
    assert all(len(ids) == 1 for ids in found.values()), "one rotation, two events"
    return len(found)


async def test_streams_over_both_sync_replicas_none_twice_at_once_none_forgotten(
    replicas: ReplicaSuite,
) -> None:
    upstream = replicas.upstream
    assert upstream is not None
    installations = await install_streams(replicas)
    stop = asyncio.Event()
    asking = asyncio.create_task(request_runs(replicas, installations, stop))

    def latest() -> dict[str, str]:
        """Which replica made each installation's latest call (its partition's owner)."""
        return {k: calls[-1].replica for k, calls in upstream.calls.items() if calls}

    try:
        await until(
            lambda: len(latest()) == len(installations) and len(set(latest().values())) == 2,
            "streams run on both replicas",
        )
        owned = {k for k, who in latest().items() if who == "sync-0"}
        killed = kill(replicas, "sync")

        def resumed() -> dict[str, float]:
            return {
                key: min(c.started for c in upstream.calls[key] if c.started > killed)
                for key in installations
                if any(c.started > killed + 0.01 for c in upstream.calls[key])
            }

        await until(lambda: len(resumed()) == len(installations), "every stream after the kill")
        takeover = [resumed()[k] - killed for k in owned]
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asking, 30)
    counted = await records_once(replicas, installations)
    assert upstream.cross_replica_overlaps == 0, "a stream ran on both replicas at once"
    print(
        f"\nreplicas sync ×2: {len(installations)} streams, "
        f"{sum(len(c) for c in upstream.calls.values())} list calls, {counted} customers "
        f"upstream all on {CANONICAL_RECORDS.name} once (lost 0, duplicated 0), no stream on "
        f"both replicas at once; {len(owned)} streams the killed replica ran: taken over "
        f"after SIGKILL in median {statistics.median(takeover):.2f} s, max {max(takeover):.2f} s"
    )
