"""Plain factories for the logs tests: messages, workspaces, and a running logs service."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, TypeVar

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from redis.asyncio import Redis

from contracts.installations import InstallationSnapshot
from contracts.logs import ExtensionLogLine
from contracts.topics import (
    AUDIT_EVENTS,
    CANONICAL_RECORDS,
    EXTENSION_LOGS,
    INSTALLATION_SNAPSHOTS,
    OBSERVED_RECORDS,
    SECRET_READS,
    STREAM_STATUS,
    WEBHOOK_HEALTH,
    Topic,
)
from services.base.auth import Principal
from services.base.kafka import create_producer, publish
from services.logs.app import create_app
from services.logs.settings import LogsSettings
from services.registry.outbox import OutboxRelay
from services.registry.schemas import MemberCreate, TokenCreate
from services.registry.service import WorkspaceService
from services.registry.store import RegistryStore
from tests.harness import Infra, eventually, logs_store_dir, serving, wait_ready

T = TypeVar("T")


def log_line(*, workspace_id: str, message: str = "hello", **fields: Any) -> ExtensionLogLine:
    """A log line with plausible defaults; any field can be overridden."""
    values: dict[str, Any] = {
        "log_id": f"log_{uuid.uuid4().hex[:12]}",
        "at": time.time(),
        "level": "info",
        "workspace_id": workspace_id,
        "installation_id": "inst_1",
        "extension_key": "helpdesk",
        "version_id": "ver_1",
        "invocation_id": f"inv_{uuid.uuid4().hex[:8]}",
        "script_type": "route",
        "script_name": "api/webhooks/helpdesk",
        **fields,
    }
    return ExtensionLogLine(message=message, **values)


async def new_workspace(infra: Infra) -> tuple[str, dict[str, str]]:
    """(workspace id, auth header of its first admin), made by the registry's own code path."""
    workspace_id, admin, _ = await new_workspace_with_member(infra)
    return workspace_id, admin


async def new_workspace_with_member(infra: Infra) -> tuple[str, dict[str, str], dict[str, str]]:
    """(workspace id, admin auth header, member auth header)."""
    redis = Redis.from_url(infra.redis_url)
    try:
        service = WorkspaceService(RegistryStore(redis), OutboxRelay(redis, producer=lambda: None))
        workspace, admin, issued = await service.bootstrap_workspace(
            f"logs-{uuid.uuid4().hex[:8]}", "admin@example.com"
        )
        caller = Principal(workspace_id=workspace.id, member_id=admin.id, role="admin", token_id="")
        member = await service.add_member(caller, MemberCreate(email="member@example.com"))
        member_token = await service.issue_token(caller, TokenCreate(member_id=member.id))
    finally:
        await redis.aclose()
    return (
        workspace.id,
        {"authorization": f"Bearer {issued.token}"},
        {"authorization": f"Bearer {member_token.token}"},
    )


async def publish_all(infra: Infra, topic: Topic[Any], messages: list[Any]) -> None:
    """Publish to the real broker (acks=all) as the producing service would."""
    producer = create_producer(infra.settings(), "test-logs")
    await producer.start()
    try:
        for message in messages:
            await publish(producer, topic, message)
    finally:
        await producer.stop()


async def publish_fast(infra: Infra, topic: Topic[Any], raws: list[tuple[bytes, bytes]]) -> None:
    """Publish many (key, value) records without waiting for each ack (acks=all at the end)."""
    producer = create_producer(infra.settings(), "test-logs-bulk")
    await producer.start()
    try:
        for start in range(0, len(raws), 20_000):
            sent = [
                await producer.send(topic.name, value, key=key)
                for key, value in raws[start : start + 20_000]
            ]
            await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def installed(
    infra: Infra,
    http: httpx.AsyncClient,
    url: str,
    headers: dict[str, str],
    workspace_id: str,
    *installation_ids: str,
) -> None:
    """Publish a snapshot of each installation in `workspace_id` (as the registry does), then
    wait until the logs service at `url` knows them: its installation routes answer 404 for
    an installation it does not hold in the caller's workspace (`headers` authenticate one)."""
    snapshots = [
        InstallationSnapshot(
            installation_id=installation_id,
            workspace_id=workspace_id,
            extension_key="helpdesk",
            kind="extension",
            revision=time.time_ns(),
            state="active",
            updated_at=time.time(),
        )
        for installation_id in installation_ids
    ]
    await publish_all(infra, INSTALLATION_SNAPSHOTS, snapshots)
    for installation_id in installation_ids:
        probe = f"{url}/v1/installations/{installation_id}/health"

        async def known(probe: str = probe) -> bool:
            return (await http.get(probe, headers=headers)).status_code == 200

        await eventually(known, timeout=30, what=f"{installation_id} known to the logs service")


# What the logs service's two groups read (services/logs/app.py): lines, and everything else.
STORED = (
    AUDIT_EVENTS,
    STREAM_STATUS,
    WEBHOOK_HEALTH,
    SECRET_READS,
    CANONICAL_RECORDS,
    OBSERVED_RECORDS,
)


async def start_at_end(bootstrap: str, group_id: str, topics: tuple[Topic[Any], ...]) -> None:
    """Commit `group_id`'s offsets at the topics' current end: a new group of a test's logs
    service reads only what the test produces, not every earlier test's messages on this
    worker's broker (a production group reads from the earliest offset, and must)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group_id, enable_auto_commit=False
    )
    await consumer.start()
    try:
        parts = [TopicPartition(t.name, p) for t in topics for p in range(t.partitions)]
        consumer.assign(parts)
        await consumer.commit(dict(await consumer.end_offsets(parts)))
    finally:
        await consumer.stop()


@contextlib.asynccontextmanager
async def running_logs(
    infra: Infra, http: httpx.AsyncClient, *, history: bool = False, **overrides: Any
) -> AsyncIterator[str]:
    """A logs service on this test process' embedded store, with its own consumer groups,
    starting at the topics' end (`history`: from the beginning, as in production)."""
    values: dict[str, Any] = {
        "group_id": f"logs-{uuid.uuid4().hex[:8]}",
        "data_dir": logs_store_dir(),
        "batch_timeout_ms": 20,
        **overrides,
    }
    if not history:
        group = values["group_id"]
        await start_at_end(infra.bootstrap_servers, f"{group}.lines", (EXTENSION_LOGS,))
        await start_at_end(infra.bootstrap_servers, group, STORED)
    async with serving(create_app(LogsSettings(**values), infra.settings())) as url:
        await wait_ready(http, url)
        yield url
