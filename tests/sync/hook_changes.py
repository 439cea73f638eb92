"""Plain factories for after-hook tests: committed changes as the core publishes them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from redis.asyncio import Redis

from contracts.entities import Actor, EntityChange
from contracts.ids import new_id
from contracts.installations import InstallationSnapshot
from contracts.topics import ENTITY_CHANGES
from services.base.kafka import publish_all
from tests.ingress.hook_factories import hook_extension
from tests.runtime.factories import deploy_directory, installation

NOTE = {"name": "deal_note", "fields": [{"name": "text", "required": True}]}


def change(
    workspace_id: str, *, after: dict[str, Any] | None = None, entity_id: str | None = None
) -> EntityChange:
    """A committed save of a deal."""
    return EntityChange(
        change_id=new_id("chg"),
        workspace_id=workspace_id,
        entity_type="deal",
        entity_id=entity_id or new_id("deal"),
        operation="save",
        before=None,
        after=after or {"name": "Acme"},
        actor=Actor(type="member", id="mem_writer"),
        committed_at=time.time(),
    )


async def after_hook_install(
    redis: Redis, root: Path, code: str, workspace_id: str, **options: Any
) -> InstallationSnapshot:
    """An active installation of an extension whose after_save hook of deals is `code`."""
    directory = hook_extension(
        root, code, events=("after_save",), access="read", entities=[NOTE], **options
    )
    version = await deploy_directory(redis, directory)
    return installation(version, workspace_id=workspace_id)


async def commit(producer: AIOKafkaProducer, changes: list[EntityChange]) -> None:
    """Publish committed changes as the core would (acks=all)."""
    await publish_all(producer, ENTITY_CHANGES, changes)
