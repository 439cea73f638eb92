"""An ingress service on the session's broker and Valkey, plus clients to drive it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from redis.asyncio import Redis

from contracts.installations import InstallationSnapshot
from services.base.kafka import create_producer
from services.base.secrets_crypto import Keyring
from services.ingress.app import create_app
from services.ingress.settings import IngressSettings
from tests.harness import Infra, TopicMarks, eventually, serving, wait_ready
from tests.ingress.factories import announce, token_for


@dataclass
class Ingress:
    """A running ingress and what tests need to feed it."""

    url: str
    http: httpx.AsyncClient
    redis: Redis
    producer: AIOKafkaProducer
    keyring: Keyring
    infra: Infra

    async def install(self, snapshot: InstallationSnapshot) -> InstallationSnapshot:
        """Publish a snapshot and wait until this ingress serves that revision."""
        await announce(self.producer, snapshot)
        await self.wait_for(snapshot)
        return snapshot

    async def wait_for(self, snapshot: InstallationSnapshot, timeout: float = 20) -> None:
        """Poll the endpoint API until the ingress view holds `snapshot.revision`."""
        token = await token_for(self.redis, snapshot.workspace_id)
        url = f"{self.url}/v1/installations/{snapshot.installation_id}/webhook"

        async def serves_it() -> bool:
            response = await self.http.get(url, headers={"authorization": f"Bearer {token}"})
            return response.status_code == 200 and response.json()["revision"] >= snapshot.revision

        await eventually(
            serves_it, timeout=timeout, what=f"ingress serving revision {snapshot.revision}"
        )

    async def deliver(
        self, snapshot: InstallationSnapshot, body: bytes, headers: dict[str, str]
    ) -> httpx.Response:
        """POST one delivery to the installation's webhook URL."""
        return await self.http.post(
            f"{self.url}/hooks/{snapshot.hook_id}", content=body, headers=headers
        )

    async def api(
        self, method: str, path: str, workspace_id: str, **kwargs: object
    ) -> httpx.Response:
        """Call the ingress API as an admin of `workspace_id`."""
        token = await token_for(self.redis, workspace_id)
        return await self.http.request(
            method,
            f"{self.url}{path}",
            headers={"authorization": f"Bearer {token}"},
            **kwargs,  # type: ignore[arg-type]
        )


def ingress_settings(**overrides: object) -> IngressSettings:
    """Test settings: quick 503s, frequent health flushes."""
    values: dict[str, object] = {
        "port": 0,
        "producer_request_timeout_ms": 2_000,
        "dedupe_pending_s": 5.0,
        "health_flush_s": 0.1,
    }
    values.update(overrides)
    return IngressSettings(**values)  # type: ignore[arg-type]


@pytest_asyncio.fixture(scope="session")
async def redis(infra: Infra) -> AsyncIterator[Redis]:
    """A Redis client on the session's Valkey."""
    client = Redis.from_url(infra.redis_url)
    yield client
    await client.aclose()


@pytest_asyncio.fixture(scope="session")
async def producer(infra: Infra) -> AsyncIterator[AIOKafkaProducer]:
    """An acks=all producer standing in for the registry's outbox relay."""
    async with relay_producer(infra) as started:
        yield started


@pytest_asyncio.fixture(scope="session")
async def ingress(
    infra: Infra, http: httpx.AsyncClient, redis: Redis, producer: AIOKafkaProducer
) -> AsyncIterator[Ingress]:
    """One ingress service for the session, ready (its snapshot view caught up)."""
    async with running_ingress(infra, http, redis, producer) as started:
        yield started


@contextlib.asynccontextmanager
async def relay_producer(infra: Infra) -> AsyncIterator[AIOKafkaProducer]:
    """An acks=all producer on `infra`'s broker."""
    started = create_producer(infra.settings(), "ingress-tests")
    await started.start()
    try:
        yield started
    finally:
        await started.stop()


@contextlib.asynccontextmanager
async def running_ingress(
    infra: Infra,
    http: httpx.AsyncClient,
    redis: Redis,
    producer: AIOKafkaProducer,
    settings: IngressSettings | None = None,
) -> AsyncIterator[Ingress]:
    """An ingress app served on a free port against `infra` (test settings), ready."""
    async with serving(create_app(settings or ingress_settings(), infra.settings())) as url:
        await wait_ready(http, url)
        yield Ingress(url, http, redis, producer, Keyring.parse(infra.keyring), infra)


@pytest_asyncio.fixture(autouse=True)
async def _reads_start_at_this_test(marked_topics: TopicMarks) -> None:
    """Topic reads skip what earlier tests wrote (see `TopicMarks`)."""
