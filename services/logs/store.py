"""Logs-service storage in Redis: the audit trail per workspace (idempotent by event id)."""

from __future__ import annotations

from typing import cast

import msgspec
from redis.asyncio import Redis

from contracts.audit import AuditEvent


def audit_key(workspace_id: str) -> str:
    """Sorted set of a workspace's audit events, scored by time."""
    return f"{{w:{workspace_id}}}:audit"


class AuditStore:
    """Append and query audit events; re-adding the same event id changes nothing."""

    def __init__(self, redis: Redis, keep: int) -> None:
        self.redis = redis
        self.keep = keep

    async def add(self, event: AuditEvent) -> None:
        """Store one event keyed by its id (a redelivered event overwrites itself)."""
        key = audit_key(event.workspace_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(key, {msgspec.json.encode(event): event.at})
            pipe.zremrangebyrank(key, 0, -self.keep - 1)
            await pipe.execute()

    async def recent(
        self, workspace_id: str, limit: int = 100, action: str | None = None
    ) -> list[AuditEvent]:
        """Newest first, optionally only one action."""
        raw = await self.redis.zrevrange(audit_key(workspace_id), 0, limit * 4 - 1)
        events = [msgspec.json.decode(cast(bytes, r), type=AuditEvent) for r in raw]
        if action:
            events = [e for e in events if e.action == action]
        return events[:limit]
