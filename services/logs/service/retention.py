"""Retention by count: each workspace keeps at most its `max_lines` newest lines.

Age is the table's TTL (`expires_at`, computed per workspace at insert). Count is enforced
by a periodic sweep: a workspace over its limit loses the lines older than its newest
`max_lines` (a lightweight DELETE). Between sweeps a workspace may exceed its limit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from services.logs.store.lines import LogLineStore

log = logging.getLogger(__name__)


class RetentionSweeper:
    """Runs `sweep` every `interval_s`; `limit_of(workspace)` gives its max lines."""

    def __init__(
        self, lines: LogLineStore, limit_of: Callable[[str], int], interval_s: float
    ) -> None:
        self.lines = lines
        self.limit_of = limit_of
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    async def sweep(self) -> list[str]:
        """Trim every workspace over its limit; the workspaces trimmed."""
        trimmed = []
        for workspace_id, count in (await self.lines.counts_by_workspace()).items():
            keep = self.limit_of(workspace_id)
            if count > keep:
                await self.lines.keep_newest(workspace_id, keep)
                trimmed.append(workspace_id)
        return trimmed

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.sweep()
            except Exception:  # the store may be busy or restarting: try next time
                log.warning("retention sweep failed", exc_info=True)

    async def start(self) -> None:
        """Begin sweeping."""
        self._task = asyncio.create_task(self._loop(), name="logs-retention")

    async def stop(self) -> None:
        """Stop sweeping."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
