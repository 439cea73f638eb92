"""Connection health in ClickHouse: the latest status of each stream and webhook windows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import msgspec

# Answers another service reads are declared once, in contracts.answers (re-exported here).
from contracts.answers.logs import WebhookTotals
from contracts.health import WebhookHealthWindow
from contracts.streams import StreamStatus
from services.logs.store.clickhouse import ClickHouse

WINDOW_COLUMNS = (
    "workspace_id",
    "installation_id",
    "replica",
    "window_start",
    "window_end",
    "deliveries",
    "status_2xx",
    "status_4xx",
    "status_5xx",
    "last_delivery_at",
    "last_success_at",
    "last_failure_reason",
)


def _utc(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


class HealthStore:
    """Stream status (latest per stream wins: ReplacingMergeTree on `at`) and webhook windows."""

    def __init__(self, clickhouse: ClickHouse) -> None:
        self.clickhouse = clickhouse

    async def add_statuses(self, statuses: Sequence[StreamStatus]) -> None:
        """Store statuses; the newest `at` per (installation, stream) is the one read."""
        rows = [
            [
                s.workspace_id,
                s.installation_id,
                s.stream,
                _utc(s.at),
                msgspec.json.encode(s).decode(),
            ]
            for s in statuses
        ]
        await self.clickhouse.insert(
            "stream_status", ("workspace_id", "installation_id", "stream", "at", "body"), rows
        )

    async def add_windows(self, windows: Sequence[WebhookHealthWindow]) -> None:
        """Store windows; a redelivered window (same replica and start) is read once."""
        rows = [
            [
                w.workspace_id,
                w.installation_id,
                w.replica,
                _utc(w.window_start),
                _utc(w.window_end),
                w.deliveries,
                w.status_2xx,
                w.status_4xx,
                w.status_5xx,
                w.last_delivery_at,
                w.last_success_at,
                w.last_failure_reason or "",
            ]
            for w in windows
        ]
        await self.clickhouse.insert("webhook_health", WINDOW_COLUMNS, rows)

    async def statuses(
        self, workspace_id: str, installation_id: str | None = None
    ) -> list[StreamStatus]:
        """Latest status of every stream (of one installation, or of the workspace)."""
        where = "workspace_id = {w:String}"
        params: dict[str, Any] = {"w": workspace_id}
        if installation_id is not None:
            where += " AND installation_id = {i:String}"
            params["i"] = installation_id
        rows = await self.clickhouse.rows(
            f"SELECT body FROM stream_status FINAL WHERE {where} ORDER BY installation_id, stream",
            params,
        )
        return [msgspec.json.decode(row[0], type=StreamStatus) for row in rows]

    async def webhook_totals(
        self, workspace_id: str, since: float, installation_id: str | None = None
    ) -> list[WebhookTotals]:
        """Per installation: sums since `since`, last delivery, last success, last failure."""
        where = "workspace_id = {w:String} AND window_start >= {since:DateTime64(3, 'UTC')}"
        params: dict[str, Any] = {"w": workspace_id, "since": _utc(since)}
        if installation_id is not None:
            where += " AND installation_id = {i:String}"
            params["i"] = installation_id
        rows = await self.clickhouse.rows(
            "SELECT installation_id, sum(deliveries), sum(status_2xx), sum(status_4xx), "
            "sum(status_5xx), max(last_delivery_at), max(last_success_at), "
            "argMaxIf(last_failure_reason, window_end, last_failure_reason != '') "
            f"FROM webhook_health FINAL WHERE {where} GROUP BY installation_id "
            "ORDER BY installation_id",
            params,
        )
        return [
            WebhookTotals(
                installation_id=r[0],
                deliveries=int(r[1]),
                status_2xx=int(r[2]),
                status_4xx=int(r[3]),
                status_5xx=int(r[4]),
                last_delivery_at=r[5],
                last_success_at=r[6],
                last_failure_reason=r[7] or None,
            )
            for r in rows
        ]
