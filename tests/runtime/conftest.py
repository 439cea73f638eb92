"""A runtime wired to the session's real Valkey and broker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from redis.asyncio import Redis

from runtime.isolated.invoker import IsolatedRuntime
from services.base.kafka import create_producer
from services.base.secrets_crypto import Keyring
from tests.harness import Infra, TopicMarks


@pytest_asyncio.fixture(autouse=True)
async def _reads_start_at_this_test(marked_topics: TopicMarks) -> None:
    """Topic reads skip what earlier tests of the worker wrote (see `TopicMarks`): a logs
    test's deliberate poison line on the logs topic is not this directory's to decode."""


@pytest_asyncio.fixture(scope="session")
async def redis(infra: Infra) -> AsyncIterator[Redis]:
    """A Redis client on the session's Valkey."""
    client = Redis.from_url(infra.redis_url)
    yield client
    await client.aclose()


@pytest_asyncio.fixture(scope="session")
async def producer(infra: Infra) -> AsyncIterator[AIOKafkaProducer]:
    """An acks=all producer on the session's broker."""
    started = create_producer(infra.settings(), "runtime-tests")
    await started.start()
    yield started
    await started.stop()


@pytest_asyncio.fixture(scope="session")
def keyring(infra: Infra) -> Keyring:
    """The session's secrets keyring."""
    return Keyring.parse(infra.keyring)


def make_runtime(
    redis: Redis, keyring: Keyring, producer: AIOKafkaProducer, **options: object
) -> IsolatedRuntime:
    """The default runtime (isolated workers) over the session's clients.

    Options: time_limit_s, host_overrides, workers, memory_mb, max_log_lines.
    """
    options.setdefault("workers", 2)
    return IsolatedRuntime(redis=redis, keyring=keyring, producer=lambda: producer, **options)  # type: ignore[arg-type]


@pytest.fixture
async def hostile(redis: Redis, keyring: Keyring, producer: AIOKafkaProducer) -> AsyncIterator[Any]:
    """A runtime (2 s limit, 256 MB) and an installation of the hostile bundle."""
    from tests.runtime.factories import BUNDLES, deploy_directory, installation

    runtime = make_runtime(redis, keyring, producer, time_limit_s=2.0, memory_mb=256)
    version = await deploy_directory(redis, BUNDLES / "hostile")
    yield runtime, installation(version)
    await runtime.close()
