"""The sync workload of the replica session: Stripe installations whose providers keep growing,
runs asked for through the balancer, and the exactly-once check on ingest.canonical.v1."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from typing import Any

import httpx

from contracts.topics import CANONICAL_RECORDS, INSTALLATION_SNAPSHOTS
from services.base.kafka import create_producer, publish
from services.base.keys import create_redis
from services.base.secrets_crypto import Keyring
from tests.harness import read_topic
from tests.replicas.conftest import ReplicaSuite

FIRST = 120  # customers upstream before the first run
GROWTH = 2  # customers added per installation every 0.1 s while the load runs


async def install_streams(suite: ReplicaSuite) -> dict[str, str]:
    """One Stripe installation per upstream key, published as the registry would; key → id."""
    from tests.connectors.conftest import CONNECTORS
    from tests.runtime.factories import deploy_directory, installation

    assert suite.upstream is not None
    redis = create_redis(suite.infra.redis_url)
    producer = create_producer(suite.infra.settings(), "replicas-snapshots")
    await producer.start()
    installed: dict[str, str] = {}
    try:
        version = await deploy_directory(redis, CONNECTORS / "stripe")
        for key, provider in suite.upstream.providers.items():
            provider.customers = FIRST
            snapshot = installation(
                version,
                keyring=Keyring.parse(suite.infra.keyring),
                secrets={"api_key": key},
                workspace_id=suite.workspace.id,
            )
            await publish(producer, INSTALLATION_SNAPSHOTS, snapshot)
            installed[key] = snapshot.installation_id
    finally:
        await producer.stop()
        await redis.aclose()
    return installed


def run_url(suite: ReplicaSuite, installation_id: str) -> str:
    return f"{suite.url('sync')}/v1/installations/{installation_id}/streams/customers/run"


async def request_runs(suite: ReplicaSuite, installed: dict[str, str], stop: asyncio.Event) -> None:
    """Upstream grows; a run of every installation's stream is asked for every half second."""
    assert suite.upstream is not None
    ticks = 0
    async with httpx.AsyncClient(timeout=5) as client:
        while not stop.is_set():
            for provider in suite.upstream.providers.values():
                provider.customers += GROWTH
            if ticks % 5 == 0:
                for installation_id in installed.values():
                    with contextlib.suppress(httpx.HTTPError):
                        await client.post(
                            run_url(suite, installation_id), headers=suite.workspace.auth()
                        )
            ticks += 1
            await asyncio.sleep(0.1)


async def records_once(suite: ReplicaSuite, installed: dict[str, str]) -> int:
    """Every customer upstream reaches ingest.canonical.v1 exactly once per installation
    (runs are asked for until every stream caught up); the number of customers checked."""
    assert suite.upstream is not None
    everyone = {
        installed[key]: {o["id"] for o in provider.objects()}
        for key, provider in suite.upstream.providers.items()
    }

    def customers(records: list[Any]) -> Counter[tuple[str, str]]:
        return Counter(
            (r.installation_id, r.idempotency_key.split(":")[2])
            for r in records
            if r.installation_id in everyone and r.idempotency_key.startswith("stripe:cus")
        )

    def complete(records: list[Any]) -> bool:
        seen = customers(records)
        return all((i, c) in seen for i, ids in everyone.items() for c in ids)

    async def ask(client: httpx.AsyncClient) -> None:
        while True:
            for installation_id in installed.values():
                with contextlib.suppress(httpx.HTTPError):
                    await client.post(
                        run_url(suite, installation_id), headers=suite.workspace.auth()
                    )
            await asyncio.sleep(1.0)

    async with httpx.AsyncClient(timeout=5) as client:
        asking = asyncio.create_task(ask(client))
        try:
            await read_topic(suite.infra.bootstrap_servers, CANONICAL_RECORDS, complete, 120)
        finally:
            asking.cancel()
            await asyncio.gather(asking, return_exceptions=True)
    await asyncio.sleep(1.0)  # anything published twice would be on the topic by now
    seen = customers(
        await read_topic(suite.infra.bootstrap_servers, CANONICAL_RECORDS, complete, 60)
    )
    twice = sorted(c for c, n in seen.items() if n > 1)
    assert not twice, f"customers published twice: {twice[:10]} ({len(twice)} in all)"
    return sum(len(ids) for ids in everyone.values())
