"""Logs-service storage in Redis: the audit trail and extension log lines, per workspace.

Both are sorted sets scored by time whose members are the encoded messages, so a redelivered
message (same bytes) is stored once.
"""

from __future__ import annotations

from typing import cast

import msgspec
from redis.asyncio import Redis

from contracts.audit import AuditEvent
from contracts.logs import ExtensionLogLine, LogKind, LogLevel


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


SEVERITY: dict[str, int] = {"debug": 0, "info": 1, "warn": 2, "error": 3}
SCAN_PAGE = 500


def log_lines_key(workspace_id: str, extension_key: str) -> str:
    """Sorted set of one extension's log lines in a workspace, scored by time."""
    return f"{{w:{workspace_id}}}:logs:{extension_key}"


class LogQuery(msgspec.Struct, frozen=True, kw_only=True):
    """Filters of the Logs tab; `level` is a minimum (warn = warn and error)."""

    level: LogLevel | None = None
    kind: LogKind | None = None
    installation_id: str | None = None
    version_id: str | None = None
    since: float | None = None

    def matches(self, line: ExtensionLogLine) -> bool:
        """Whether `line` passes every filter that is set."""
        return (
            (self.level is None or SEVERITY[line.level] >= SEVERITY[self.level])
            and (self.kind is None or line.kind == self.kind)
            and (self.installation_id is None or line.installation_id == self.installation_id)
            and (self.version_id is None or line.version_id == self.version_id)
        )


class LogLineStore:
    """Append and query extension log lines; at most `keep` per extension and workspace."""

    def __init__(self, redis: Redis, keep: int) -> None:
        self.redis = redis
        self.keep = keep

    async def add(self, line: ExtensionLogLine) -> None:
        """Store one line (a redelivered line overwrites itself) and trim the oldest."""
        key = log_lines_key(line.workspace_id, line.extension_key)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(key, {msgspec.json.encode(line): line.at})
            pipe.zremrangebyrank(key, 0, -self.keep - 1)
            await pipe.execute()

    async def recent(
        self, workspace_id: str, extension_key: str, limit: int, query: LogQuery
    ) -> list[ExtensionLogLine]:
        """Newest first: up to `limit` lines passing `query`, scanning at most `keep` lines."""
        key = log_lines_key(workspace_id, extension_key)
        low = query.since if query.since is not None else "-inf"
        found: list[ExtensionLogLine] = []
        for start in range(0, self.keep, SCAN_PAGE):
            raw = await self.redis.zrevrangebyscore(key, "+inf", low, start=start, num=SCAN_PAGE)
            lines = [msgspec.json.decode(cast(bytes, r), type=ExtensionLogLine) for r in raw]
            found += [line for line in lines if query.matches(line)]
            if len(found) >= limit or len(raw) < SCAN_PAGE:
                break
        return found[:limit]
