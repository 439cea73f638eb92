"""`GET /v1/extensions/{key}/logs`: log lines from the real topic, read over real HTTP."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest_asyncio
from redis.asyncio import Redis

from contracts.logs import ExtensionLogLine
from contracts.topics import EXTENSION_LOGS
from services.base.kafka import create_producer, publish
from services.logs.app import create_app
from services.logs.settings import LogsSettings
from services.registry.outbox import OutboxRelay
from services.registry.service import WorkspaceService
from services.registry.store import RegistryStore
from tests.harness import serving, wait_ready


def log_line(*, workspace_id: str, message: str, **fields: Any) -> ExtensionLogLine:
    values: dict[str, Any] = {
        "log_id": f"log_{uuid.uuid4().hex[:12]}",
        "at": time.time(),
        "level": "info",
        "workspace_id": workspace_id,
        "installation_id": "inst_1",
        "extension_key": "helpdesk",
        "version_id": "ver_1",
        "invocation_id": "inv_1",
        "script_type": "route",
        "script_name": "api/webhooks/helpdesk",
        **fields,
    }
    return ExtensionLogLine(message=message, **values)


async def admin_of_new_workspace(infra) -> tuple[str, dict[str, str]]:
    """(workspace id, admin auth header) of a fresh workspace, made by the operator code path."""
    redis = Redis.from_url(infra.redis_url)
    try:
        service = WorkspaceService(RegistryStore(redis), OutboxRelay(redis, producer=lambda: None))
        workspace, _, issued = await service.bootstrap_workspace(
            f"logs-{uuid.uuid4().hex[:8]}", "admin@example.com"
        )
    finally:
        await redis.aclose()
    return workspace.id, {"authorization": f"Bearer {issued.token}"}


@pytest_asyncio.fixture
async def logs_url(infra, http: httpx.AsyncClient) -> AsyncIterator[str]:
    settings = LogsSettings(group_id=f"logs-{uuid.uuid4().hex[:8]}")
    async with serving(create_app(settings, infra.settings())) as url:
        await wait_ready(http, url)
        yield url


async def lines_of(
    http: httpx.AsyncClient, url: str, headers: dict[str, str], want: int, **params: Any
) -> list[dict[str, Any]]:
    """The endpoint's answer once it holds `want` lines (the subscriber is asynchronous)."""
    deadline = time.monotonic() + 20
    while True:
        response = await http.get(
            f"{url}/v1/extensions/helpdesk/logs", headers=headers, params=params
        )
        assert response.status_code == 200, response.text
        if len(response.json()) >= want or time.monotonic() > deadline:
            return response.json()
        await asyncio.sleep(0.2)


async def test_published_lines_are_listed_newest_first_and_filtered(infra, http, logs_url):
    workspace_id, admin = await admin_of_new_workspace(infra)
    producer = create_producer(infra.settings(), "test-logs")
    await producer.start()
    try:
        for n, (level, kind) in enumerate(
            [("info", "log"), ("warn", "denial"), ("error", "error")]
        ):
            line = log_line(
                workspace_id=workspace_id,
                message=f"line {n}",
                level=level,
                kind=kind,
                at=1000.0 + n,
            )
            await publish(producer, EXTENSION_LOGS, line)
    finally:
        await producer.stop()
    everything = await lines_of(http, logs_url, admin, want=3)
    assert [line["message"] for line in everything] == ["line 2", "line 1", "line 0"]
    warn_and_up = await lines_of(http, logs_url, admin, want=2, level="warn")
    assert [line["level"] for line in warn_and_up] == ["error", "warn"]
    denials = await lines_of(http, logs_url, admin, want=1, kind="denial")
    assert [line["message"] for line in denials] == ["line 1"]
    since = await lines_of(http, logs_url, admin, want=2, since=1001.0)
    assert [line["message"] for line in since] == ["line 2", "line 1"]


async def test_another_workspace_sees_none_of_the_lines(infra, http, logs_url):
    workspace_id, admin = await admin_of_new_workspace(infra)
    _, stranger = await admin_of_new_workspace(infra)
    producer = create_producer(infra.settings(), "test-logs")
    await producer.start()
    try:
        await publish(producer, EXTENSION_LOGS, log_line(workspace_id=workspace_id, message="x"))
    finally:
        await producer.stop()
    assert len(await lines_of(http, logs_url, admin, want=1)) == 1
    assert await lines_of(http, logs_url, stranger, want=0) == []


async def test_an_unauthenticated_caller_is_refused(http, logs_url):
    response = await http.get(f"{logs_url}/v1/extensions/helpdesk/logs")
    assert response.status_code == 401
