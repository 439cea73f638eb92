"""Sync test fixtures: a broker and Valkey per test module, snapshots on the real topic, tokens.

Every sync replica schedules every active installation on the snapshot topic it reads, so a
replica on the session's shared broker would also poll other tests' installations (without
their provider overrides) and race this module's replicas for their leases. Each sync test
module therefore runs on a private embedded broker and Valkey (started in about a second).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import msgspec
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from redis.asyncio import Redis

from contracts.ids import new_id
from contracts.installations import InstallationSnapshot
from contracts.records import CanonicalRecord
from contracts.topics import CANONICAL_RECORDS, INSTALLATION_SNAPSHOTS
from services.base.auth import Principal, new_token, token_digest, token_key
from services.base.kafka import create_producer, publish
from services.base.secrets_crypto import Keyring
from services.sync.settings import SyncSettings
from tests.harness import Infra, embedded_infra


@pytest.fixture(scope="module")
def infra() -> Iterator[Infra]:
    """This module's own broker and Valkey: no other test's sync replica sees its snapshots."""
    with embedded_infra() as started:
        yield started


@pytest_asyncio.fixture(scope="module")
async def redis(infra: Infra) -> AsyncIterator[Redis]:
    """A Redis client on the module's Valkey."""
    client = Redis.from_url(infra.redis_url)
    yield client
    await client.aclose()


@pytest_asyncio.fixture(scope="module")
async def producer(infra: Infra) -> AsyncIterator[AIOKafkaProducer]:
    """An acks=all producer on the module's broker."""
    started = create_producer(infra.settings(), "sync-tests")
    await started.start()
    yield started
    await started.stop()


@pytest.fixture(scope="module")
def keyring(infra: Infra) -> Keyring:
    """The module's secrets keyring."""
    return Keyring.parse(infra.keyring)


def sync_settings(provider_url: str | None = None, **options: Any) -> SyncSettings:
    """A sync replica of its own consumer group, pointed at a local Stripe-like server."""
    values: dict[str, Any] = {
        "group_id": new_id("sync-test"),
        "port": 0,
        "backoff_base_s": 0.5,
        "backoff_max_s": 2.0,
        "lease_ttl_s": 6.0,
        "dedupe_pending_s": 5.0,
    }
    if provider_url:
        values["host_overrides"] = f"api.stripe.com={provider_url}"
    values.update(options)
    return SyncSettings(**values)


async def put_snapshot(producer: AIOKafkaProducer, snapshot: InstallationSnapshot) -> None:
    """Publish a snapshot as the registry would (acks=all)."""
    await publish(producer, INSTALLATION_SNAPSHOTS, snapshot)


def revised(snapshot: InstallationSnapshot, **changes: Any) -> InstallationSnapshot:
    """The next revision of `snapshot` with `changes`."""
    return msgspec.structs.replace(
        snapshot, revision=snapshot.revision + 1, updated_at=time.time(), **changes
    )


async def token_for(redis: Redis, workspace_id: str, role: str = "admin") -> dict[str, str]:
    """A workspace API token stored as the registry stores it; the auth header."""
    token = new_token()
    principal = Principal(
        workspace_id=workspace_id,
        member_id=new_id("mem"),
        role=role,
        token_id=new_id("tok"),  # type: ignore[arg-type]
    )
    await redis.set(token_key(token_digest(token)), msgspec.json.encode(principal))
    return {"authorization": f"Bearer {token}"}


async def canonical_of(
    bootstrap: str,
    installation_id: str,
    until: Callable[[list[CanonicalRecord]], bool],
    timeout: float = 60,
) -> list[CanonicalRecord]:
    """Canonical records of one installation, read from the beginning until `until` holds."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [
            TopicPartition(CANONICAL_RECORDS.name, p) for p in range(CANONICAL_RECORDS.partitions)
        ]
        await consumer.end_offsets(partitions)  # loads the topic's metadata before fetching
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        # By position: the embedded broker may hand a reader a batch again after a fetch
        # that overlapped it; the same offset twice is one record, two offsets are two.
        mine: dict[tuple[int, int], CanonicalRecord] = {}
        deadline = time.monotonic() + timeout
        while not until(list(mine.values())):
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met; saw {len(mine)} records")
            batch = await consumer.getmany(timeout_ms=300)
            for records in batch.values():
                for record in records:
                    decoded = CANONICAL_RECORDS.decode(record.value)
                    if decoded.installation_id == installation_id:
                        mine[(record.partition, record.offset)] = decoded
        return list(mine.values())
    finally:
        await consumer.stop()
