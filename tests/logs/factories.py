"""Plain factories for the logs tests: messages, workspaces, and a running logs service."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, TypeVar

import httpx
from redis.asyncio import Redis

from contracts.logs import ExtensionLogLine
from contracts.topics import Topic
from services.base.auth import Principal
from services.base.kafka import create_producer, publish
from services.logs.app import create_app
from services.logs.settings import LogsSettings
from services.registry.outbox import OutboxRelay
from services.registry.schemas import MemberCreate, TokenCreate
from services.registry.service import WorkspaceService
from services.registry.store import RegistryStore
from tests.harness import Infra, logs_store_dir, serving, wait_ready

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


@contextlib.asynccontextmanager
async def running_logs(
    infra: Infra, http: httpx.AsyncClient, **overrides: Any
) -> AsyncIterator[str]:
    """A logs service on this test process' embedded store, with its own consumer group."""
    values: dict[str, Any] = {
        "group_id": f"logs-{uuid.uuid4().hex[:8]}",
        "data_dir": logs_store_dir(),
        "batch_timeout_ms": 20,
        **overrides,
    }
    async with serving(create_app(LogsSettings(**values), infra.settings())) as url:
        await wait_ready(http, url)
        yield url
