"""Registry state in Redis. Every change is one MULTI that also appends its outbox messages.

Keys of a workspace share the hash tag `{w:<id>}`, so one transaction can change several of
them (and append to the workspace's outbox) on a Redis Cluster too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import msgspec
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from services.base.auth import Principal, token_key
from services.registry.schemas import Member, TokenInfo, Workspace

T = TypeVar("T")


def wkey(workspace_id: str, *parts: str) -> str:
    """A key in the workspace's hash slot: `{w:ID}:part:part`."""
    return ":".join([f"{{w:{workspace_id}}}", *parts])


WORKSPACE_SLUGS = "workspaces:by-slug"


class RegistryStore:
    """Reads and atomic writes of registry state."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def transaction(self, build: Callable[[Pipeline], Any]) -> None:
        """Run `build(pipe)` inside MULTI/EXEC: all of it commits or none of it does."""
        async with self.redis.pipeline(transaction=True) as pipe:
            build(pipe)
            await pipe.execute()

    async def _get(self, key: str, kind: type[T]) -> T | None:
        raw = await self.redis.get(key)
        return msgspec.json.decode(raw, type=kind) if raw else None

    async def workspace_id_by_slug(self, slug: str) -> str | None:
        raw = await self.redis.hget(WORKSPACE_SLUGS, slug)
        return raw.decode() if raw else None

    async def workspace(self, workspace_id: str) -> Workspace | None:
        return await self._get(wkey(workspace_id, "workspace"), Workspace)

    async def members(self, workspace_id: str) -> list[Member]:
        raw = await self.redis.hvals(wkey(workspace_id, "members"))
        return sorted(
            (msgspec.json.decode(r, type=Member) for r in raw), key=lambda m: m.created_at
        )

    async def member(self, workspace_id: str, member_id: str) -> Member | None:
        raw = await self.redis.hget(wkey(workspace_id, "members"), member_id)
        return msgspec.json.decode(raw, type=Member) if raw else None

    async def tokens(self, workspace_id: str) -> list[TokenInfo]:
        raw = await self.redis.hvals(wkey(workspace_id, "tokens"))
        return sorted(
            (msgspec.json.decode(r, type=TokenInfo) for r in raw), key=lambda t: t.created_at
        )

    @staticmethod
    def put_workspace(pipe: Pipeline, workspace: Workspace) -> None:
        pipe.set(wkey(workspace.id, "workspace"), msgspec.json.encode(workspace))
        pipe.hset(WORKSPACE_SLUGS, workspace.slug, workspace.id)

    @staticmethod
    def put_member(pipe: Pipeline, workspace_id: str, member: Member) -> None:
        pipe.hset(wkey(workspace_id, "members"), member.id, msgspec.json.encode(member))

    @staticmethod
    def put_token(pipe: Pipeline, digest: str, principal: Principal, info: TokenInfo) -> None:
        # The token key lives outside the workspace slot: on a Cluster it is written in its own
        # step before the workspace transaction (an orphan token record without metadata is inert).
        pipe.set(token_key(digest), msgspec.json.encode(principal))
        pipe.hset(wkey(principal.workspace_id, "tokens"), info.id, msgspec.json.encode(info))
        pipe.hset(wkey(principal.workspace_id, "token-digests"), info.id, digest)
