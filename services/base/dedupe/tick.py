"""One Redis pipeline per event-loop tick for the commands of concurrent callers.

Every command queued during one tick travels in a single pipeline (one round trip for many
concurrent deliveries or pages).

**Deferred confirms** (the one place this guarantee is stated; the rest of the tree links
here). Work nobody is waiting on may be deferred: ingress confirms a delivery's dedupe
claims and records its history entry right after answering the provider, with
`defer=True`. A deferred command starts no round trip of its own; it rides along with the
next pipeline sent (typically the next delivery's claim) or is sent alone after `DEFER_S`
(1 ms) if nothing else is. So at moderate rates a delivery costs one Redis round trip
instead of two, and:

- the history may lag a 202 by at most `DEFER_S` plus one round trip;
- a duplicate arriving in that window finds the key pending and waits for the confirm
  (`services.base.dedupe.deduplicator`), so it is never answered before the record is
  durable;
- claims are never deferred; a confirm lost with its process (killed within the window)
  leaves the key pending, and the next claimant, finding it stale, looks for the record on
  the canonical topic before publishing (`deduplicator`), so nothing is written twice.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from services.base.redis_wire import Wire

Queue = Callable[[Pipeline], object]
Batch = list[tuple[Queue, asyncio.Future[list[Any]]]]

# Longest a deferred command waits for another pipeline to ride along with.
DEFER_S = 0.001


class TickPipeline:
    """Coalesces the Redis commands of concurrent callers into one pipeline per loop tick.

    `run(queue)` sends at the end of the current tick. `run(queue, defer=True)` does not start
    a round trip of its own at once: it joins the next pipeline sent, or is sent alone after
    `DEFER_S`. Commands go out in the order they were queued (deferred ones first).
    A caller's future fails with the connection error if the pipeline could not be sent
    (every caller of that pipeline alike); per-command errors come back as exception objects
    in its results (`checked` raises the first).
    """

    def __init__(self, redis: Redis, wire: Wire | None = None) -> None:
        self.redis = redis
        # The services' multiplexed connection (`services.base.redis_wire`): no connection
        # checkout and no task per pipeline. None: redis-py's pipelines (a cluster; tests).
        self.wire = wire
        self._pending: Batch = []
        self._deferred: Batch = []
        self._scheduled = False
        self._timer: asyncio.TimerHandle | None = None

    def run(self, queue: Queue, *, defer: bool = False) -> asyncio.Future[list[Any]]:
        """Queue commands with `queue(pipe)`; resolve with their results in order."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Any]] = loop.create_future()
        if defer:
            self._deferred.append((queue, future))
            if self._timer is None:
                self._timer = loop.call_later(DEFER_S, self._flush)
            return future
        self._pending.append((queue, future))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return future

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch = self._deferred + self._pending if self._deferred else self._pending
        self._deferred, self._pending, self._scheduled = [], [], False
        if not batch:
            return
        try:
            pipe, spans = self._queued(batch)
        except Exception as error:  # a caller's commands could not be queued (bad argument)
            _settle(batch, [], error)
            return
        if self.wire is None or pipe.scripts:  # `Script`s need redis-py's EVALSHA fallback
            asyncio.get_running_loop().create_task(self._send(pipe, spans, batch))
            return
        sent = self.wire.send(pipe.command_stack)
        sent.add_done_callback(functools.partial(_answered, batch, spans))

    def _queued(self, batch: Batch) -> tuple[Pipeline, list[tuple[int, int]]]:
        """One pipeline with every caller's commands, and where each caller's are."""
        pipe = self.redis.pipeline(transaction=False)
        spans = []
        for queue, _ in batch:
            start = len(pipe)
            queue(pipe)
            spans.append((start, len(pipe)))
        return pipe, spans

    async def _send(self, pipe: Pipeline, spans: list[tuple[int, int]], batch: Batch) -> None:
        try:
            results = await pipe.execute(raise_on_error=False)
        except Exception as error:
            _settle(batch, spans, error)
            return
        _settle(batch, spans, results)


def _answered(batch: Batch, spans: list[tuple[int, int]], done: asyncio.Future[list[Any]]) -> None:
    error = done.exception()
    _settle(batch, spans, error if error is not None else done.result())


def _settle(batch: Batch, spans: list[tuple[int, int]], outcome: list[Any] | BaseException) -> None:
    """Each caller's results of one pipeline, or the pipeline's error for every caller (a
    connection-level failure)."""
    for index, (_, future) in enumerate(batch):
        if future.done():
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            start, end = spans[index]
            future.set_result(outcome[start:end])


def checked(results: list[Any]) -> list[Any]:
    """The results of one caller's commands, raising the first per-command error."""
    for result in results:
        if isinstance(result, Exception):
            raise result
    return results
