"""Reliability: duplicate storms, a frozen broker or Redis, and an ingress killed mid-load.

Each test is bounded in count and time, talks to 127.0.0.1 only, and always resumes what it
paused (in `finally`). The module runs on a broker and Valkey of its own, so that freezing them
disturbs no other test's clients.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import pytest_asyncio
from redis.asyncio import Redis

from cli.embedded import free_port
from contracts.topics import CANONICAL_RECORDS
from tests.harness import Infra, embedded_infra, eventually, read_topic
from tests.ingress.conftest import Ingress, relay_producer, running_ingress
from tests.ingress.factories import announce, deploy, installation, signed, stripe_event, token_for


@pytest.fixture(scope="module")
def private_infra() -> Iterator[Infra]:
    """This module's own broker and Valkey (it freezes them); every topic created."""
    with embedded_infra() as started:
        yield started


@pytest_asyncio.fixture(scope="module")
async def ingress(private_infra: Infra, http: httpx.AsyncClient) -> AsyncIterator[Ingress]:
    """An ingress service on the private infrastructure, ready."""
    redis = Redis.from_url(private_infra.redis_url)
    try:
        async with (
            relay_producer(private_infra) as producer,
            running_ingress(private_infra, http, redis, producer) as started,
        ):
            yield started
    finally:
        await redis.aclose()


async def active_install(ingress: Ingress):  # type: ignore[no-untyped-def]
    version = await deploy(ingress.redis)
    return await ingress.install(installation(version, ingress.keyring))


def keys_of(event_ids: list[str]) -> set[str]:
    return {f"stripe:event:{e}:0" for e in event_ids}


async def records_for(
    ingress: Ingress, installation_id: str, wanted: set[str], timeout: float = 30
):  # type: ignore[no-untyped-def]
    seen = await read_topic(
        ingress.infra.bootstrap_servers,
        CANONICAL_RECORDS,
        until=lambda ms: (
            wanted <= {m.idempotency_key for m in ms if m.installation_id == installation_id}
        ),
        timeout=timeout,
    )
    return [m for m in seen if m.installation_id == installation_id]


class TestDuplicateStorm:
    async def test_same_event_fifty_times_concurrently_yields_one_record_and_fifty_2xx(
        self, ingress: Ingress
    ) -> None:
        snapshot = await active_install(ingress)
        event = stripe_event("customer.created")
        body, headers = signed(event)

        answers = await asyncio.gather(
            *(ingress.deliver(snapshot, body, headers) for _ in range(50))
        )

        assert [a.status_code for a in answers] == [202] * 50
        marker = stripe_event("customer.created")  # published after: proves we read far enough
        assert (await ingress.deliver(snapshot, *signed(marker))).status_code == 202
        records = await records_for(ingress, snapshot.installation_id, keys_of([marker["id"]]))
        assert [r.idempotency_key for r in records].count(f"stripe:event:{event['id']}:0") == 1


class TestBrokerPaused:
    async def test_frozen_broker_gives_503s_and_every_202d_delivery_is_on_the_topic(
        self, ingress: Ingress
    ) -> None:
        if ingress.infra.broker is None:
            pytest.skip("needs the embedded broker to pause")
        snapshot = await active_install(ingress)
        accepted: list[str] = []
        statuses: list[int] = []

        async def send_one() -> None:
            event = stripe_event("customer.created")
            response = await ingress.deliver(snapshot, *signed(event))
            statuses.append(response.status_code)
            if response.status_code == 202:
                accepted.append(event["id"])

        async def load(count: int) -> None:
            for _ in range(count // 4):
                await asyncio.gather(*(send_one() for _ in range(4)))

        await load(20)
        ingress.infra.broker.pause()
        try:
            await load(8)  # every one of these waits out the producer timeout, then 503
        finally:
            ingress.infra.broker.resume()

        async def accepted_again() -> bool:  # the producer reconnects; retries start to pass
            probe = stripe_event("customer.created")
            if (await ingress.deliver(snapshot, *signed(probe))).status_code != 202:
                return False
            accepted.append(probe["id"])
            return True

        await eventually(accepted_again, timeout=30, interval=0.2)
        await load(20)

        assert 503 in statuses
        assert set(statuses) <= {202, 503}
        records = await records_for(ingress, snapshot.installation_id, keys_of(accepted))
        assert keys_of(accepted) <= {r.idempotency_key for r in records}

    async def test_retry_after_a_503_is_not_dropped_as_a_duplicate(self, ingress: Ingress) -> None:
        if ingress.infra.broker is None:
            pytest.skip("needs the embedded broker to pause")
        snapshot = await active_install(ingress)
        event = stripe_event("customer.created")
        ingress.infra.broker.pause()
        try:
            first = await ingress.deliver(snapshot, *signed(event))
        finally:
            ingress.infra.broker.resume()

        async def retried() -> httpx.Response | None:
            retry = await ingress.deliver(snapshot, *signed(event))
            return retry if retry.status_code == 202 else None

        retry = await eventually(retried, timeout=30, interval=0.2)

        assert (first.status_code, retry.status_code) == (503, 202)
        records = await records_for(ingress, snapshot.installation_id, keys_of([event["id"]]))
        assert len(records) == 1


class TestRedisPaused:
    async def test_frozen_redis_gives_503_and_the_retry_is_ingested_once(
        self, ingress: Ingress
    ) -> None:
        if ingress.infra.valkey is None:
            pytest.skip("needs the embedded Valkey to pause")
        snapshot = await active_install(ingress)
        event = stripe_event("customer.created")
        ingress.infra.valkey.pause()
        try:
            first = await ingress.deliver(snapshot, *signed(event))
        finally:
            ingress.infra.valkey.resume()
        # A claim the frozen server applied on resume blocks retries until it expires
        # (INGRESS_DEDUPE_PENDING_S): answered 503 meanwhile, never dropped.

        async def retried() -> httpx.Response | None:
            retry = await ingress.deliver(snapshot, *signed(event))
            if retry.status_code != 202:
                assert retry.status_code == 503
                return None
            return retry

        retry = await eventually(retried, timeout=30, interval=0.2)

        assert (first.status_code, retry.status_code) == (503, 202)
        records = await records_for(ingress, snapshot.installation_id, keys_of([event["id"]]))
        assert len(records) == 1


class TestIngressKilled:
    async def test_ingress_killed_mid_load_loses_no_202d_delivery(self, ingress: Ingress) -> None:
        version = await deploy(ingress.redis)
        snapshot = installation(version, ingress.keyring)
        await announce(ingress.producer, snapshot)
        port = free_port()
        env = {**ingress.infra.env(), "INGRESS_PORT": str(port), "LOG_LEVEL": "WARNING"}
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "services.ingress",
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        accepted: list[str] = []
        try:
            async with httpx.AsyncClient(timeout=15) as client:
                await _until_serving(client, url, process)
                token = await token_for(ingress.redis, snapshot.workspace_id)
                await _until_known(client, url, snapshot, token)

                async def send_one() -> None:
                    event = stripe_event("customer.created")
                    body, headers = signed(event)
                    try:
                        response = await client.post(
                            f"{url}/hooks/{snapshot.hook_id}", content=body, headers=headers
                        )
                    except httpx.HTTPError:
                        return  # connection died with the process: not promised
                    if response.status_code == 202:
                        accepted.append(event["id"])

                async def sender(count: int) -> None:
                    for _ in range(count):
                        await send_one()

                senders = [asyncio.create_task(sender(40)) for _ in range(8)]
                while len(accepted) < 40 and not all(s.done() for s in senders):
                    await asyncio.sleep(0.01)
                os.kill(process.pid, signal.SIGKILL)
                await asyncio.gather(*senders)
        finally:
            if process.returncode is None:
                process.kill()
            await asyncio.wait_for(process.wait(), 10)

        assert len(accepted) >= 40
        records = await records_for(ingress, snapshot.installation_id, keys_of(accepted))
        assert keys_of(accepted) <= {r.idempotency_key for r in records}


async def _until_serving(
    client: httpx.AsyncClient, url: str, process: asyncio.subprocess.Process
) -> None:

    async def ready() -> bool:
        if process.returncode is not None:
            raise RuntimeError("ingress subprocess exited")  # not retried
        try:
            return (await client.get(f"{url}/readyz")).status_code == 200
        except httpx.HTTPError:
            return False

    await eventually(ready, timeout=30, interval=0.1, what="the ingress subprocess ready")


async def _until_known(client: httpx.AsyncClient, url: str, snapshot, token: str) -> None:  # type: ignore[no-untyped-def]

    async def known() -> bool:
        response = await client.get(
            f"{url}/v1/installations/{snapshot.installation_id}/webhook",
            headers={"authorization": f"Bearer {token}"},
        )
        return response.status_code == 200

    await eventually(known, timeout=20, what="the ingress subprocess knowing the installation")
