"""The audit trail in ClickHouse: who did what, newest first, keyset-paginated.

Holds the registry's events (from Kafka) and the logs service's own (a destination disabled
after persistent failure). Redelivered events (same id and time) are read once (FINAL).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import msgspec

from contracts.audit import AuditEvent
from services.logs.service.queries import Cursor

COLUMNS = ("workspace_id", "at", "event_id", "actor", "action", "target", "details")


class AuditFilter(msgspec.Struct, frozen=True, kw_only=True):
    """Filters of the audit trail; all exact except the time range (inclusive)."""

    workspace_id: str
    action: str | None = None
    actor: str | None = None
    target: str | None = None
    since: float | None = None
    until: float | None = None


class AuditStore:
    """Append and read audit events of one workspace at a time."""

    def __init__(self, clickhouse: Any) -> None:
        self.clickhouse = clickhouse

    async def add_many(self, events: Sequence[AuditEvent]) -> None:
        """One insert for the batch."""
        rows = [
            [
                e.workspace_id,
                dt.datetime.fromtimestamp(e.at, dt.UTC),
                e.event_id,
                e.actor,
                e.action,
                e.target,
                msgspec.json.encode(e.details).decode(),
            ]
            for e in events
        ]
        await self.clickhouse.insert("audit_events", COLUMNS, rows)

    async def page(
        self, query: AuditFilter, cursor: Cursor | None, limit: int
    ) -> tuple[list[AuditEvent], Cursor | None]:
        """Newest first, and the cursor of the next page (None at the end)."""
        clauses = ["workspace_id = {workspace_id:String}"]
        params: dict[str, Any] = {"workspace_id": query.workspace_id, "limit": limit + 1}
        for name in ("action", "actor", "target"):
            if getattr(query, name) is not None:
                clauses.append(f"{name} = {{{name}:String}}")
                params[name] = getattr(query, name)
        if query.since is not None:
            clauses.append("at >= fromUnixTimestamp64Micro({since:Int64}, 'UTC')")
            params["since"] = int(query.since * 1e6)
        if query.until is not None:
            clauses.append("at <= fromUnixTimestamp64Micro({until:Int64}, 'UTC')")
            params["until"] = int(query.until * 1e6)
        if cursor is not None:
            clauses.append(
                "(at < fromUnixTimestamp64Micro({c_at:Int64}, 'UTC') OR "
                "(at = fromUnixTimestamp64Micro({c_at:Int64}, 'UTC') AND event_id < {c_id:String}))"
            )
            params["c_at"], params["c_id"] = cursor.at_us, cursor.log_id
        rows = await self.clickhouse.rows(
            "SELECT toUnixTimestamp64Micro(at), event_id, actor, action, target, details "
            f"FROM audit_events FINAL WHERE {' AND '.join(clauses)} "
            "ORDER BY at DESC, event_id DESC LIMIT {limit:UInt32}",
            params,
        )
        events = [
            AuditEvent(
                event_id=r[1],
                workspace_id=query.workspace_id,
                actor=r[2],
                action=r[3],
                target=r[4],
                at=r[0] / 1e6,
                details=msgspec.json.decode(r[5]),
            )
            for r in rows[:limit]
        ]
        last = rows[limit - 1] if len(rows) > limit else None
        return events, Cursor(int(last[0]), last[1]) if last else None
