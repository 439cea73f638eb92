"""Redis state of ingress: dedupe keys, delivery history, held queues, secret revisions, health.

Every key is hash-tagged by installation (`{i:<installation_id>}:...`) so a Redis Cluster keeps
one installation's keys on one shard. Hot-path writes go through `TickPipeline`: every command
queued during one event-loop tick travels in a single pipeline (one round trip for many
concurrent deliveries). Work nobody is waiting on (a confirm after the answer) may be deferred
by up to `DEFER_S`: it then rides along with the next pipeline sent, typically the next
delivery's claim, so at moderate rates a delivery costs one Redis round trip instead of two.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import msgspec
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from contracts.installations import InstallationSnapshot, VersionRef
from contracts.secrets import SecretEntry
from services.ingress.schemas import DeliverySummary

Queue = Callable[[Pipeline], object]
Batch = list[tuple[Queue, asyncio.Future[list[Any]]]]

# Longest a deferred command waits for another pipeline to ride along with.
DEFER_S = 0.001

# Compare-and-delete: release a dedupe claim only if it is still ours.
_RELEASE = (
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
)
# Compare-and-set: move a claim from one state to another only if it is still in the first.
_SWAP = (
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "return redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end return false"
)
_summary = msgspec.json.Decoder(DeliverySummary)
_secret = msgspec.json.Decoder(SecretEntry)
_version = msgspec.json.Decoder(VersionRef)


def tag(installation_id: str) -> str:
    """The hash tag every key of one installation starts with."""
    return f"{{i:{installation_id}}}"


class TickPipeline:
    """Coalesces the Redis commands of concurrent callers into one pipeline per loop tick.

    `run(queue)` sends at the end of the current tick. `run(queue, defer=True)` does not start
    a round trip of its own at once: it joins the next pipeline sent, or is sent alone after
    `DEFER_S`. Commands go out in the order they were queued (deferred ones first).
    A caller's future fails with the connection error if the pipeline could not be sent
    (every caller of that pipeline alike); per-command errors come back as exception objects
    in its results.
    """

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
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
        if batch:
            asyncio.get_running_loop().create_task(self._send(batch))

    async def _send(self, batch: Batch) -> None:
        pipe = self.redis.pipeline(transaction=False)
        spans = []
        for queue, _ in batch:
            start = len(pipe.command_stack)
            queue(pipe)
            spans.append((start, len(pipe.command_stack)))
        try:
            results = await pipe.execute(raise_on_error=False)
        except Exception as error:  # connection-level failure: every caller sees it
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        for (start, end), (_, future) in zip(spans, batch, strict=True):
            if not future.done():
                future.set_result(results[start:end])


class IngressStore:
    """Typed access to ingress' Redis keys."""

    def __init__(self, redis: Redis, *, history_limit: int, history_ttl_s: int) -> None:
        self.redis = redis
        self.tick = TickPipeline(redis)
        self.history_limit = history_limit
        self.history_ttl_s = history_ttl_s

    # Dedupe -----------------------------------------------------------------------------

    @staticmethod
    def dedupe_key(installation_id: str, idempotency_key: str) -> str:
        """Where one idempotency key's claim lives."""
        return f"{tag(installation_id)}:dedupe:{idempotency_key}"

    async def claim(self, keys: list[str], token: str, pending_ms: int) -> list[bytes | None]:
        """SET NX GET each key to `token`; None where we claimed it, else the holder's value."""

        def queue(pipe: Pipeline) -> None:
            for key in keys:
                pipe.set(key, token, nx=True, get=True, px=pending_ms)

        return _checked(await self.tick.run(queue))

    async def peek(self, keys: list[str]) -> list[bytes | None]:
        """The current value of each key."""

        def queue(pipe: Pipeline) -> None:
            for key in keys:
                pipe.get(key)

        return _checked(await self.tick.run(queue))

    async def confirm(
        self,
        keys: list[str],
        ttl_s: int,
        summary: DeliverySummary | None = None,
        *,
        defer: bool = False,
    ) -> None:
        """Mark claims as done for `ttl_s`, and record the delivery, in one round trip.

        `defer`: nobody is waiting on it (the answer is out), so it may ride along with the
        next pipeline sent, at most `DEFER_S` later.
        """

        def queue(pipe: Pipeline) -> None:
            for key in keys:
                pipe.set(key, b"d", ex=ttl_s)
            if summary is not None:
                self._queue_summary(pipe, summary)

        _checked(await self.tick.run(queue, defer=defer))

    async def release(self, keys: list[str], token: str) -> None:
        """Give back claims still holding `token` (their publish failed)."""

        def queue(pipe: Pipeline) -> None:
            for key in keys:
                pipe.eval(_RELEASE, 1, key, token)

        _checked(await self.tick.run(queue))

    async def swap(self, key: str, expected: bytes | str, value: bytes | str, ttl_ms: int) -> bool:
        """Set `key` to `value` only if it still holds `expected`."""
        return bool(await self.redis.eval(_SWAP, 1, key, expected, value, ttl_ms))

    @staticmethod
    def parse_dedupe_key(key: str) -> tuple[str, str]:
        """(installation id, idempotency key) of a dedupe key."""
        installation_id = key[len("{i:") : key.index("}")]
        return installation_id, key.split(":dedupe:", 1)[1]

    # History ----------------------------------------------------------------------------

    def _queue_summary(self, pipe: Pipeline, summary: DeliverySummary) -> None:
        t = tag(summary.installation_id)
        pipe.set(
            f"{t}:delivery:{summary.delivery_id}",
            msgspec.json.encode(summary),
            ex=self.history_ttl_s,
        )
        pipe.zadd(f"{t}:deliveries", {summary.delivery_id: summary.received_at})
        pipe.zremrangebyrank(f"{t}:deliveries", 0, -self.history_limit - 1)

    async def record(self, summary: DeliverySummary) -> None:
        """Add or update one delivery in its installation's history."""
        _checked(await self.tick.run(lambda pipe: self._queue_summary(pipe, summary)))

    async def delivery(self, installation_id: str, delivery_id: str) -> DeliverySummary | None:
        """One delivery of an installation, or None."""
        raw = await self.redis.get(f"{tag(installation_id)}:delivery:{delivery_id}")
        return _summary.decode(raw) if raw else None

    async def history(
        self,
        installation_id: str,
        *,
        limit: int,
        before: float | None = None,
        since: float | None = None,
        oldest_first: bool = False,
    ) -> list[DeliverySummary]:
        """Deliveries received in [since, before), newest first unless `oldest_first`."""
        t = tag(installation_id)
        low = since if since is not None else "-inf"
        high = f"({before}" if before is not None else "+inf"
        if oldest_first:
            ids = await self.redis.zrangebyscore(f"{t}:deliveries", low, high, start=0, num=limit)
        else:
            ids = await self.redis.zrevrangebyscore(
                f"{t}:deliveries", high, low, start=0, num=limit
            )
        if not ids:
            return []
        raws = await self.redis.mget([f"{t}:delivery:{_text(i)}" for i in ids])
        return [_summary.decode(raw) for raw in raws if raw]

    # Held deliveries --------------------------------------------------------------------

    async def hold(self, summary: DeliverySummary) -> None:
        """Record a held delivery and append it to its installation's queue (arrival order)."""

        def queue(pipe: Pipeline) -> None:
            self._queue_summary(pipe, summary)
            pipe.rpush(f"{tag(summary.installation_id)}:held", summary.delivery_id)

        _checked(await self.tick.run(queue))

    async def next_held(self, installation_id: str) -> str | None:
        """The oldest held delivery id, left in place until `drop_held`."""
        raw = await self.redis.lindex(f"{tag(installation_id)}:held", 0)
        return _text(raw) if raw else None

    async def drop_held(self, installation_id: str, delivery_id: str) -> None:
        """Remove a processed delivery from the head of the held queue."""
        await self.redis.lrem(f"{tag(installation_id)}:held", 1, delivery_id)

    async def lock_held(self, installation_id: str, owner: str, ttl_s: int) -> bool:
        """One replica at a time drains an installation's held queue."""
        return bool(
            await self.redis.set(f"{tag(installation_id)}:held:lock", owner, nx=True, ex=ttl_s)
        )

    async def unlock_held(self, installation_id: str, owner: str) -> None:
        """Release the drain lock if we still hold it."""
        await self.redis.eval(_RELEASE, 1, f"{tag(installation_id)}:held:lock", owner)

    # Secret revisions and versions seen -------------------------------------------------

    async def remember(self, snapshot: InstallationSnapshot) -> None:
        """Keep every sealed secret revision and version this installation has had (for replay)."""
        t = tag(snapshot.installation_id)
        secrets = {
            f"{e.name}:{e.revision}": msgspec.json.encode(e)
            for e in [*snapshot.secrets.values(), *snapshot.rotating_secrets.values()]
        }
        versions = {
            v.version_id: msgspec.json.encode(v)
            for v in (snapshot.active, snapshot.observation, snapshot.pending_upgrade)
            if v is not None
        }
        pipe = self.redis.pipeline(transaction=False)
        for field, value in secrets.items():
            pipe.hsetnx(f"{t}:secret-revisions", field, value)
        for field, value in versions.items():
            pipe.hsetnx(f"{t}:versions", field, value)
        await pipe.execute()

    async def secret_revision(
        self, installation_id: str, name: str, revision: int
    ) -> SecretEntry | None:
        """A sealed secret revision seen before (still sealed)."""
        raw = await self.redis.hget(
            f"{tag(installation_id)}:secret-revisions", f"{name}:{revision}"
        )
        return _secret.decode(raw) if raw else None

    async def version(self, installation_id: str, version_id: str) -> VersionRef | None:
        """A version this installation has run (active, observed or offered)."""
        raw = await self.redis.hget(f"{tag(installation_id)}:versions", version_id)
        return _version.decode(raw) if raw else None

    # Health -----------------------------------------------------------------------------

    async def add_health(self, counts: dict[str, dict[str, Any]]) -> None:
        """Add per-installation counters (`n`, `2xx`, ...) and set `last_*` timestamps."""
        minute = int(time.time() // 60)
        pipe = self.redis.pipeline(transaction=False)
        for installation_id, fields in counts.items():
            t = tag(installation_id)
            for field, value in fields.items():
                if field.startswith("last_"):
                    pipe.hset(f"{t}:health", field, value)
                else:
                    pipe.hincrbyfloat(f"{t}:health", field, value)
            pipe.incrby(f"{t}:rate:{minute}", int(fields.get("n", 0)))
            pipe.expire(f"{t}:rate:{minute}", 3700)
        await pipe.execute()

    async def health(self, installation_id: str) -> tuple[dict[str, str], list[int]]:
        """The counters hash and the per-minute delivery counts of the last hour (newest first)."""
        t = tag(installation_id)
        now = int(time.time() // 60)
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(f"{t}:health")
        pipe.mget([f"{t}:rate:{m}" for m in range(now, now - 60, -1)])
        fields, rates = await pipe.execute()
        decoded = {k.decode(): v.decode() for k, v in fields.items()}
        return decoded, [int(r) if r else 0 for r in rates]


def _checked(results: list[Any]) -> list[Any]:
    for result in results:
        if isinstance(result, Exception):
            raise result
    return results


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
