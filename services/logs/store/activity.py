"""Activity over time, bucketed: webhook answers by status class and error lines. What the
console draws its charts from (`GET /v1/activity`). Records are not counted here: the logs
service keeps canonical records only of installations under observation."""

from __future__ import annotations

import datetime as dt
from typing import Any

from services.logs.schemas import ActivityPoint
from services.logs.store.clickhouse import ClickHouse

STATUS_CLASSES = ("2xx", "4xx", "5xx")


def _utc(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


class ActivityStore:
    """Reads only: grouped queries over what the logs service already stores."""

    def __init__(self, clickhouse: ClickHouse) -> None:
        self.clickhouse = clickhouse

    async def points(
        self, workspace_id: str, since: float, bucket_s: int, installation_id: str | None
    ) -> list[ActivityPoint]:
        """Every non-empty (installation, bucket, kind, series) count since `since`."""
        params: dict[str, Any] = {"w": workspace_id, "since": _utc(since), "b": bucket_s}
        scope = "workspace_id = {w:String}"
        if installation_id is not None:
            scope += " AND installation_id = {i:String}"
            params["i"] = installation_id
        bucket = "toUnixTimestamp(toStartOfInterval({col}, INTERVAL {{b:UInt32}} SECOND))"
        webhook = await self.clickhouse.rows(
            f"SELECT installation_id, {bucket.format(col='window_start')} AS t, "
            "sum(status_2xx), sum(status_4xx), sum(status_5xx) FROM webhook_health FINAL "
            f"WHERE {scope} AND window_start >= {{since:DateTime64(3, 'UTC')}} "
            "GROUP BY installation_id, t",
            params,
        )
        errors = await self.clickhouse.rows(
            # distinct lines: a line stored twice (a redelivered batch) is one error
            f"SELECT installation_id, {bucket.format(col='at')} AS t, uniqExact(log_id) "
            "FROM log_lines "
            f"WHERE {scope} AND level = 'error' AND at >= {{since:DateTime64(6, 'UTC')}} "
            "GROUP BY installation_id, t",
            params,
        )
        points = [
            ActivityPoint(
                installation_id=r[0], at=float(r[1]), kind="deliveries", series=name, count=n
            )
            for r in webhook
            for name, n in zip(STATUS_CLASSES, (int(r[2]), int(r[3]), int(r[4])), strict=True)
            if n
        ]
        points += [
            ActivityPoint(
                installation_id=r[0], at=float(r[1]), kind="errors", series="error", count=int(r[2])
            )
            for r in errors
        ]
        return sorted(points, key=lambda p: (p.installation_id, p.kind, p.series, p.at))
