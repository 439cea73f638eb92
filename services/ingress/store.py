"""Redis state of ingress: delivery history, held queues, secret revisions, health.

Dedupe keys are `services.base.dedupe.DedupeStore`'s (the same key space sync uses); this store
extends it so history writes share its per-tick pipeline (`services.base.dedupe.tick`) and a
delivery's record travels in its (deferred) dedupe confirm. Every key is hash-tagged by
installation (`{i:<installation_id>}:...`) so a Redis Cluster keeps one installation's keys
on one shard.
"""

from __future__ import annotations

import time
from typing import Any

import msgspec
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from contracts.installations import InstallationSnapshot, VersionRef
from contracts.secrets import SecretEntry
from services.base.dedupe import COMPARE_AND_DELETE, DedupeStore, Queue, checked, tag
from services.base.redis_wire import Wire
from services.ingress.schemas import DeliverySummary

_summary = msgspec.json.Decoder(DeliverySummary)
_secret = msgspec.json.Decoder(SecretEntry)
_version = msgspec.json.Decoder(VersionRef)


class IngressStore(DedupeStore):
    """Typed access to ingress' Redis keys; dedupe keys are `DedupeStore`'s (shared with sync)."""

    def __init__(
        self,
        redis: Redis,
        *,
        history_limit: int,
        history_ttl_s: int,
        wire: Wire | None = None,
    ) -> None:
        super().__init__(redis, wire)
        self.history_limit = history_limit
        self.history_ttl_s = history_ttl_s

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

    def recording(self, summary: DeliverySummary) -> Queue:
        """The commands that record `summary`, to ride along with a dedupe confirm."""
        return lambda pipe: self._queue_summary(pipe, summary)

    async def record(self, summary: DeliverySummary) -> None:
        """Add or update one delivery in its installation's history."""
        checked(await self.tick.run(lambda pipe: self._queue_summary(pipe, summary)))

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

        checked(await self.tick.run(queue))

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
        await self.redis.eval(COMPARE_AND_DELETE, 1, f"{tag(installation_id)}:held:lock", owner)

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


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
