"""Activity over time for charts: `GET /v1/activity` (the workspace, or one installation)."""

from __future__ import annotations

import time
from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromQuery, QueryParameter

from services.base.auth import Principal
from services.logs.schemas import Activity
from services.logs.store.activity import ActivityStore

DAY_S = 86_400


class ActivityController(Controller):
    """Bucketed counts: webhook deliveries by status class, error lines."""

    path = "/v1/activity"
    tags = ["health"]

    @get("/")
    async def activity(
        self,
        principal: NamedDependency[Principal],
        activity: NamedDependency[ActivityStore],
        installation_id: FromQuery[str | None] = None,
        hours: Annotated[int, QueryParameter(ge=1, le=24 * 30)] = 24,
        bucket_s: Annotated[int, QueryParameter(ge=60, le=DAY_S)] = 3600,
    ) -> Activity:
        """The last `hours`, in buckets of `bucket_s` seconds (empty buckets are left out)."""
        until = time.time()
        since = until - hours * 3600
        points = await activity.points(principal.workspace_id, since, bucket_s, installation_id)
        return Activity(since=since, until=until, bucket_s=bucket_s, points=points)
