"""Alert state in Redis: destinations, rules, fired windows, the delivery queue, attempts.

Keys of one workspace share the `{w:<id>}` hash tag (Redis Cluster). The delivery queue is
one sorted set scored by due time; claiming a delivery moves its score a lease ahead, so a
replica that dies mid-attempt leaves it to be retried after the lease: at-least-once.
Signing secrets are stored sealed (AES-GCM envelope with the suite's keyring), never plain.
"""

from __future__ import annotations

from typing import Any, cast

import msgspec
from redis.asyncio import Redis

from contracts.secrets import SealedSecret
from services.logs.schemas import Attempt, RuleType

QUEUE = "alerts:queue"  # the default deployment's (group `logs`) queue of deliveries


def queue_key(group_id: str) -> str:
    """The deliveries' queue of one logs deployment: its replicas (one consumer group) share
    it; another deployment on the same Valkey (its own group) never claims its deliveries,
    which it would attempt with its own target rules and retry timings. The default
    deployment keeps the key it always had."""
    return QUEUE if group_id == "logs" else f"{QUEUE}:{group_id}"


ATTEMPTS_KEPT = 1_000
_CLAIM = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, id in ipairs(due) do redis.call('ZADD', KEYS[1], ARGV[3], id) end
return due
"""


class SigningKey(msgspec.Struct, frozen=True, kw_only=True):
    """One signing secret of a destination; `expires_at` set once a newer one replaced it."""

    revision: int
    sealed: SealedSecret
    created_at: float
    expires_at: float | None = None


class DestinationRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A stored destination (the API shows it without its keys)."""

    id: str
    workspace_id: str
    url: str
    description: str = ""
    enabled: bool = True
    disabled_reason: str | None = None
    created_at: float
    keys: list[SigningKey] = []


class RuleRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A stored rule."""

    id: str
    workspace_id: str
    type: RuleType
    destination_id: str
    window_s: float
    params: dict[str, Any] = {}
    created_at: float


class Delivery(msgspec.Struct, frozen=True, kw_only=True):
    """One alert on its way to one destination; `attempt` counts the attempts made.
    `first_at`: when it was queued; `first_attempt_at`: when its first attempt was made (the
    retry horizon counts from there, so time spent queued behind others is not held against
    the destination)."""

    id: str
    workspace_id: str
    destination_id: str
    alert_id: str
    body: str
    first_at: float
    attempt: int = 0
    first_attempt_at: float | None = None


def _w(workspace_id: str) -> str:
    return f"{{w:{workspace_id}}}"


class AlertStore:
    """Redis access for alerts; every method scoped to one workspace except the queue."""

    def __init__(self, redis: Redis, queue: str = QUEUE) -> None:
        self.redis = redis
        self.queue = queue

    async def put_destination(self, record: DestinationRecord) -> None:
        """Create or replace."""
        key = f"{_w(record.workspace_id)}:alert:destinations"
        await self.redis.hset(key, record.id, msgspec.json.encode(record))

    async def destination(self, workspace_id: str, destination_id: str) -> DestinationRecord | None:
        """One destination of the workspace, or None."""
        raw = await self.redis.hget(f"{_w(workspace_id)}:alert:destinations", destination_id)
        return msgspec.json.decode(raw, type=DestinationRecord) if raw else None

    async def destinations(self, workspace_id: str) -> list[DestinationRecord]:
        """All destinations of the workspace, oldest first."""
        raw = await self.redis.hvals(f"{_w(workspace_id)}:alert:destinations")
        found = [msgspec.json.decode(r, type=DestinationRecord) for r in raw]
        return sorted(found, key=lambda d: d.created_at)

    async def delete_destination(self, workspace_id: str, destination_id: str) -> bool:
        """Remove; whether it existed."""
        key = f"{_w(workspace_id)}:alert:destinations"
        return bool(await self.redis.hdel(key, destination_id))

    async def put_rule(self, record: RuleRecord) -> None:
        """Create or replace."""
        key = f"{_w(record.workspace_id)}:alert:rules"
        await self.redis.hset(key, record.id, msgspec.json.encode(record))

    async def rules(self, workspace_id: str) -> list[RuleRecord]:
        """All rules of the workspace, oldest first."""
        raw = await self.redis.hvals(f"{_w(workspace_id)}:alert:rules")
        found = [msgspec.json.decode(r, type=RuleRecord) for r in raw]
        return sorted(found, key=lambda r: r.created_at)

    async def delete_rule(self, workspace_id: str, rule_id: str) -> bool:
        """Remove; whether it existed."""
        return bool(await self.redis.hdel(f"{_w(workspace_id)}:alert:rules", rule_id))

    async def claim_window(self, workspace_id: str, rule_id: str, window: int, ttl_s: int) -> bool:
        """True for the first caller of a rule's window (across replicas), False after."""
        key = f"{_w(workspace_id)}:alert:fired:{rule_id}:{window}"
        return bool(await self.redis.set(key, b"1", nx=True, ex=max(ttl_s, 1)))

    async def schedule(self, delivery: Delivery, due: float) -> None:
        """Store a delivery and (re)queue it at `due`."""
        await self.redis.set(f"alerts:delivery:{delivery.id}", msgspec.json.encode(delivery))
        await self.redis.zadd(self.queue, {delivery.id: due})

    async def claim_due(self, now: float, limit: int, lease_s: float) -> list[Delivery]:
        """Deliveries due by `now`, leased for `lease_s` (retried after if we crash)."""
        ids = await cast(Any, self.redis.eval(_CLAIM, 1, self.queue, now, limit, now + lease_s))
        found = []
        for delivery_id in ids:
            raw = await self.redis.get(f"alerts:delivery:{delivery_id.decode()}")
            if raw is None:
                await self.redis.zrem(self.queue, delivery_id)
            else:
                found.append(msgspec.json.decode(raw, type=Delivery))
        return found

    async def finish(self, delivery_id: str) -> None:
        """Delivered or given up: leave the queue."""
        await self.redis.zrem(self.queue, delivery_id)
        await self.redis.delete(f"alerts:delivery:{delivery_id}")

    async def add_attempt(self, workspace_id: str, destination_id: str, attempt: Attempt) -> None:
        """Append to the destination's attempt history (newest first, bounded)."""
        key = f"{_w(workspace_id)}:alert:attempts:{destination_id}"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.lpush(key, msgspec.json.encode(attempt))
            pipe.ltrim(key, 0, ATTEMPTS_KEPT - 1)
            await pipe.execute()

    async def attempts(self, workspace_id: str, destination_id: str, limit: int) -> list[Attempt]:
        """Newest first."""
        key = f"{_w(workspace_id)}:alert:attempts:{destination_id}"
        raw = await self.redis.lrange(key, 0, limit - 1)
        return [msgspec.json.decode(r, type=Attempt) for r in raw]
