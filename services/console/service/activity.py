"""Which charts a page shows, from the logs service's activity (`GET /v1/activity`)."""

from __future__ import annotations

import time
from typing import Any

import msgspec

from contracts.answers.logs import Activity
from contracts.streams import StreamStatus
from services.console.downstream import Reply
from services.console.service.charts import bars, sparkline, stacked_bars

HOURS = 24
BUCKET_S = 3600


def activity_call(installation_id: str | None = None) -> tuple[Any, ...]:
    """The downstream call of the last day's activity, hourly (one installation or all)."""
    params: dict[str, Any] = {"hours": HOURS, "bucket_s": BUCKET_S}
    if installation_id is not None:
        params["installation_id"] = installation_id
    return ("logs", "GET", "/v1/activity", params, Activity)


def _window(reply: Reply) -> tuple[list[dict[str, Any]], float, float, int]:
    until = time.time()
    empty = Activity(since=until - HOURS * 3600, until=until, bucket_s=BUCKET_S, points=[])
    data: Activity = reply.data if reply.ok and isinstance(reply.data, Activity) else empty
    points = [msgspec.to_builtins(p) for p in data.points]
    return points, data.since, data.until, data.bucket_s


def sparklines(reply: Reply) -> dict[str, str]:
    """Installed list: one sparkline per installation with any activity (others get none)."""
    if not reply.ok:
        return {}
    points, since, until, bucket_s = _window(reply)
    by_installation: dict[str, list[dict[str, Any]]] = {}
    for point in points:
        by_installation.setdefault(point["installation_id"], []).append(point)
    return {
        iid: sparkline(mine, since=since, until=until, bucket_s=bucket_s, label="Last 24 hours")
        for iid, mine in by_installation.items()
    }


def deliveries_chart(reply: Reply) -> str:
    """Deliveries per hour, stacked by status class; empty when logs did not answer."""
    if not reply.ok:
        return ""
    points, since, until, bucket_s = _window(reply)
    return stacked_bars(
        points,
        since=since,
        until=until,
        bucket_s=bucket_s,
        kind="deliveries",
        series=("2xx", "4xx", "5xx"),
        title="Webhook deliveries per hour",
    )


def connection_charts(reply: Reply, streams: list[StreamStatus], webhooks: bool) -> list[str]:
    """Connection tab: records of each stream's last run, deliveries and errors per hour."""
    charts = []
    polled = [s for s in streams if s.mode == "active"]
    if polled:
        items = [(s.stream, s.records_last_run) for s in polled]
        charts.append(bars(items, title="Records in each stream's last run"))
    if not reply.ok:
        return charts
    points, since, until, bucket_s = _window(reply)
    if webhooks:
        charts.append(deliveries_chart(reply))
    charts.append(
        stacked_bars(
            points,
            since=since,
            until=until,
            bucket_s=bucket_s,
            kind="errors",
            series=("error",),
            title="Errors per hour",
        )
    )
    return charts
