"""The shared dedupe store, one Lua call per page instead of one command per record.

Same keys and states as every other caller of `services.base.dedupe` (ingress included):
only the transport differs. A page's keys all carry the installation's hash tag, so one
script touches one Redis Cluster slot; a claim is `SET NX GET PX` per key and a confirm
`SET d EX` per key, exactly what the pipeline would send, minus redis-py's per-command cost
(which was most of sync's CPU per record). A page's confirm shares its round trip with the
caller's own writes (sync's cursor commit).
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from services.base.dedupe.store import DONE, DedupeStore
from services.base.dedupe.tick import Queue, checked
from services.base.redis_wire import Wire

_CLAIM = """
local holders = {}
for i, key in ipairs(KEYS) do
  holders[i] = redis.call('SET', key, ARGV[1], 'NX', 'GET', 'PX', ARGV[2])
end
return holders
"""
_CONFIRM = """
for _, key in ipairs(KEYS) do redis.call('SET', key, ARGV[1], 'EX', ARGV[2]) end
return #KEYS
"""


class PageDedupeStore(DedupeStore):
    """`DedupeStore` whose claim and confirm of one page are one script each."""

    def __init__(self, redis: Redis, wire: Wire | None = None) -> None:
        super().__init__(redis, wire)
        self._claim = redis.register_script(_CLAIM)

    async def claim(self, keys: list[str], token: str, pending_ms: int) -> list[bytes | None]:
        """SET NX GET each key to `token`; None where we claimed it, else the holder's value."""
        if not keys:
            return []
        holders: list[Any] = await self._claim(keys=keys, args=[token, pending_ms])
        return [h if isinstance(h, bytes) else None for h in holders]

    async def confirm(
        self, keys: list[str], ttl_s: int, also: Queue | None = None, *, defer: bool = False
    ) -> list[Any]:
        """Mark claims done for `ttl_s`, the caller's `also` writes (sync: the cursor commit)
        in the same round trip; the results of the `also` commands."""

        def queue(pipe: Pipeline) -> None:
            if keys:
                pipe.eval(_CONFIRM, len(keys), *keys, DONE, ttl_s)
            if also is not None:
                also(pipe)

        results = checked(await self.tick.run(queue, defer=defer))
        return results[1:] if keys else results
