"""Sync test fixtures: the session's Valkey/broker clients, snapshots on the real topic, tokens."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import msgspec
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from redis.asyncio import Redis

from contracts.ids import new_id
from contracts.installations import InstallationSnapshot
from contracts.records import CanonicalRecord
from contracts.topics import CANONICAL_RECORDS, INSTALLATION_SNAPSHOTS
from services.base.auth import Principal, new_token, token_digest, token_key
from services.base.kafka import publish
from services.sync.settings import SyncSettings
from tests.runtime.conftest import keyring, producer, redis  # noqa: F401 - shared fixtures


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


async def put_snapshot(producer: AIOKafkaProducer, snapshot: InstallationSnapshot) -> None:  # noqa: F811
    """Publish a snapshot as the registry would (acks=all)."""
    await publish(producer, INSTALLATION_SNAPSHOTS, snapshot)


def revised(snapshot: InstallationSnapshot, **changes: Any) -> InstallationSnapshot:
    """The next revision of `snapshot` with `changes`."""
    return msgspec.structs.replace(
        snapshot, revision=snapshot.revision + 1, updated_at=time.time(), **changes
    )


async def token_for(redis: Redis, workspace_id: str, role: str = "admin") -> dict[str, str]:  # noqa: F811
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
        mine: list[CanonicalRecord] = []
        deadline = time.monotonic() + timeout
        while not until(mine):
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met; saw {len(mine)} records")
            batch = await consumer.getmany(timeout_ms=300)
            for records in batch.values():
                for record in records:
                    decoded = CANONICAL_RECORDS.decode(record.value)
                    if decoded.installation_id == installation_id:
                        mine.append(decoded)
        return mine
    finally:
        await consumer.stop()


async def eventually(check: Callable[[], Any], timeout: float = 60, every: float = 0.2) -> Any:
    """Poll an async or sync `check` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(every)
    raise AssertionError(f"condition not met within {timeout}s (last: {last!r})")
