"""Background work of one service process, tracked so shutdown waits for it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


class Background:
    """Fire-and-forget tasks whose failures are logged, not lost, and awaited at shutdown."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Future[Any]] = set()

    def spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run `work` concurrently; an exception is logged with its traceback."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def track(self, future: asyncio.Future[Any]) -> None:
        """Wait for `future` at shutdown too (work already started, no task of its own); its
        failure is the caller's to read, through a done callback."""
        self._tasks.add(future)
        future.add_done_callback(self._tasks.discard)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("background task failed", exc_info=task.exception())

    async def drain(self, timeout_s: float = 10.0) -> None:
        """Wait for running tasks (bounded): shadow runs, history writes, settling publishes."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout_s)
