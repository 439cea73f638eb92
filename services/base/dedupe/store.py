"""The Redis side of dedupe: one key per (installation, idempotency key), hash-tagged.

Every key of an installation starts with `{i:<installation_id>}` so a Redis Cluster keeps one
installation's keys on one shard; a dedupe key is `{i:<installation_id>}:dedupe:<key>`, the
same for every service that ingests canonical records. Claims, peeks, confirms and releases
go through the shared `TickPipeline`; services that keep more per-installation state
(ingress' delivery history) subclass `DedupeStore` so their writes share its pipeline.
"""

from __future__ import annotations

import asyncio
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from services.base.dedupe.tick import Queue, TickPipeline, checked
from services.base.keys import installation_tag as tag  # the one layout rule (base/keys.py)
from services.base.redis_wire import Wire

DONE = b"d"

# Compare-and-delete: release a claim (or a lock) only if it is still ours.
COMPARE_AND_DELETE = (
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
)
# Compare-and-set: move a claim from one state to another only if it is still in the first.
_SWAP = (
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "return redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end return false"
)


def _confirming(keys: list[str], ttl_s: int, also: Queue | None) -> Queue:
    def queue(pipe: Pipeline) -> None:
        for key in keys:
            pipe.set(key, DONE, ex=ttl_s)
        if also is not None:
            also(pipe)

    return queue


class DedupeStore:
    """Typed access to the dedupe keys (and the tick pipeline others' writes may share)."""

    def __init__(self, redis: Redis, wire: Wire | None = None) -> None:
        self.redis = redis
        self.tick = TickPipeline(redis, wire)

    @staticmethod
    def dedupe_key(installation_id: str, idempotency_key: str) -> str:
        """Where one idempotency key's claim lives."""
        return f"{tag(installation_id)}:dedupe:{idempotency_key}"

    @staticmethod
    def parse_dedupe_key(key: str) -> tuple[str, str]:
        """(installation id, idempotency key) of a dedupe key."""
        installation_id = key[len("{i:") : key.index("}")]
        return installation_id, key.split(":dedupe:", 1)[1]

    async def claim(self, keys: list[str], token: str, pending_ms: int) -> list[bytes | None]:
        """SET NX GET each key to `token`; None where we claimed it, else the holder's value."""

        def queue(pipe: Pipeline) -> None:
            for key in keys:
                pipe.set(key, token, nx=True, get=True, px=pending_ms)

        return checked(await self.tick.run(queue))

    async def peek(self, keys: list[str]) -> list[bytes | None]:
        """The current value of each key."""

        def queue(pipe: Pipeline) -> None:
            for key in keys:
                pipe.get(key)

        return checked(await self.tick.run(queue))

    async def confirm(
        self, keys: list[str], ttl_s: int, also: Queue | None = None, *, defer: bool = False
    ) -> list[Any]:
        """Mark claims as done for `ttl_s`, plus the caller's `also` commands, in one round
        trip; the results of the `also` commands.

        `defer`: nobody is waiting on it (the answer is out), so it may ride along with the
        next pipeline sent, at most `DEFER_S` later.
        """
        results = checked(await self.tick.run(_confirming(keys, ttl_s, also), defer=defer))
        return results[len(keys) :]

    def confirm_later(
        self, keys: list[str], ttl_s: int, also: Queue | None = None
    ) -> asyncio.Future[list[Any]]:
        """`confirm` with nobody waiting on it, without a coroutine or a task: it rides along
        with the next pipeline sent (≤ `DEFER_S` later). The future holds the commands'
        results (a per-command error as an exception object: see `tick.checked`)."""
        return self.tick.run(_confirming(keys, ttl_s, also), defer=True)

    async def release(self, keys: list[str], token: str) -> None:
        """Give back claims still holding `token` (their publish failed)."""

        def queue(pipe: Pipeline) -> None:
            for key in keys:
                pipe.eval(COMPARE_AND_DELETE, 1, key, token)

        checked(await self.tick.run(queue))

    async def swap(self, key: str, expected: bytes | str, value: bytes | str, ttl_ms: int) -> bool:
        """Set `key` to `value` only if it still holds `expected`."""
        return bool(await self.redis.eval(_SWAP, 1, key, expected, value, ttl_ms))
