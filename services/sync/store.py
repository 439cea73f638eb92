"""Redis state of sync: run leases with fencing tokens, cursors, cursor history, stream status.

Every key is hash-tagged by installation (`{i:<installation_id>}:sync:...`) so a Redis Cluster
keeps one installation's keys on one shard and the Lua scripts below touch a single slot.

Fencing: taking a lease increments the stream's fence counter and the lease holds that value
(the token). A cursor commit is one Lua script that writes only if the lease *and* the fence
still hold the caller's token, so a replica that lost its lease (expired while it was frozen,
or taken over after a rebalance) can never move a cursor. An admin's reset or restore bumps
the fence too: a run in flight at that moment cannot overwrite the admin's cursor.
"""

from __future__ import annotations

import time
from typing import Any

import msgspec
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from contracts.streams import StreamStatus
from services.base.dedupe import Queue, tag
from services.sync.schemas import CursorEntry

RUN_REQUESTS = "sync:run-requests"  # not per installation: every scheduler scans it each tick

# KEYS: lease, fence; ARGV: slot, ttl ms. The new token, or false when the lease is held.
_ACQUIRE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local token = redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
redis.call('SET', KEYS[1], token, 'PX', ARGV[2])
return token
"""
# KEYS: lease; ARGV: token, ttl ms.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
# A run's start: lease taken, its `running` status stored, its cursor read, in one call.
# KEYS: lease, fence, cursors, status; ARGV: slot, ttl ms, status json.
# {token, has cursor, cursor}, or false when the lease is held.
_START = """
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local token = redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
redis.call('SET', KEYS[1], token, 'PX', ARGV[2])
redis.call('HSET', KEYS[4], ARGV[1], ARGV[3])
local cursor = redis.call('HGET', KEYS[3], ARGV[1])
if cursor then return {token, 1, cursor} end
return {token, 0, ''}
"""
# A run's end: lease released (if still ours) and its final status stored, in one call.
# KEYS: lease, status; ARGV: token, slot, status json.
_FINISH = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return 1
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
# KEYS: lease, fence, cursors, history, history heads, status
# ARGV: token, slot, has cursor ('1'/'0'), cursor, entry json, history limit, run id,
# status json ('' to leave the status as it is)
_COMMIT = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if redis.call('HGET', KEYS[2], ARGV[2]) ~= ARGV[1] then return 0 end
if ARGV[3] == '1' then redis.call('HSET', KEYS[3], ARGV[2], ARGV[4])
else redis.call('HDEL', KEYS[3], ARGV[2]) end
if redis.call('HGET', KEYS[5], ARGV[2]) == ARGV[7] then redis.call('LSET', KEYS[4], 0, ARGV[5])
else
  redis.call('LPUSH', KEYS[4], ARGV[5])
  redis.call('LTRIM', KEYS[4], 0, tonumber(ARGV[6]) - 1)
  redis.call('HSET', KEYS[5], ARGV[2], ARGV[7])
end
if ARGV[8] ~= '' then redis.call('HSET', KEYS[6], ARGV[2], ARGV[8]) end
return 1
"""
# An admin's cursor change. KEYS: fence, cursors, history, history heads.
# ARGV: slot, has cursor, cursor, entry json, history limit
_ADMIN_SET = """
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
if ARGV[2] == '1' then redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
else redis.call('HDEL', KEYS[2], ARGV[1]) end
redis.call('LPUSH', KEYS[3], ARGV[4])
redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[5]) - 1)
redis.call('HDEL', KEYS[4], ARGV[1])
return 1
"""

_entry = msgspec.json.Decoder(CursorEntry)
_status = msgspec.json.Decoder(StreamStatus)


def _text(value: Any) -> str:
    """redis-py types replies as bytes | str; this client answers bytes."""
    return value.decode() if isinstance(value, bytes) else str(value)


class SyncStore:
    """Typed access to sync's Redis keys."""

    def __init__(self, redis: Redis, *, history_limit: int) -> None:
        self.redis = redis
        self.history_limit = history_limit
        self._acquire = redis.register_script(_ACQUIRE)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)
        self._start = redis.register_script(_START)
        self._finish = redis.register_script(_FINISH)
        self._admin_set = redis.register_script(_ADMIN_SET)

    @staticmethod
    def _keys(installation_id: str) -> dict[str, str]:
        t = tag(installation_id)
        return {
            "fence": f"{t}:sync:fence",
            "cursors": f"{t}:sync:cursors",
            "heads": f"{t}:sync:history-heads",
            "status": f"{t}:sync:status",
        }

    @staticmethod
    def _lease(installation_id: str, slot: str) -> str:
        return f"{tag(installation_id)}:sync:lease:{slot}"

    @staticmethod
    def _history(installation_id: str, slot: str) -> str:
        return f"{tag(installation_id)}:sync:history:{slot}"

    # Leases ------------------------------------------------------------------------------

    async def acquire(self, installation_id: str, slot: str, ttl_s: float) -> str | None:
        """Take the run lease; its fencing token, or None while another run holds it."""
        keys = self._keys(installation_id)
        token = await self._acquire(
            keys=[self._lease(installation_id, slot), keys["fence"]], args=[slot, int(ttl_s * 1000)]
        )
        return None if token is None else str(int(token))

    async def start(
        self, installation_id: str, slot: str, ttl_s: float, running: StreamStatus
    ) -> tuple[str, str | None] | None:
        """Take the run lease and store its `running` status: (fencing token, committed
        cursor), or None (nothing written) while another run holds the lease."""
        keys = self._keys(installation_id)
        found = await self._start(
            keys=[
                self._lease(installation_id, slot),
                keys["fence"],
                keys["cursors"],
                keys["status"],
            ],
            args=[slot, int(ttl_s * 1000), msgspec.json.encode(running)],
        )
        if not found:
            return None
        token, has_cursor, cursor = found
        return str(int(token)), _text(cursor) if int(has_cursor) else None

    async def finish(
        self, installation_id: str, slot: str, token: str, status: StreamStatus | None
    ) -> None:
        """Give the lease back if it is still ours and store the run's final status."""
        if status is None:
            await self.release(installation_id, slot, token)
            return
        await self._finish(
            keys=[self._lease(installation_id, slot), self._keys(installation_id)["status"]],
            args=[token, slot, msgspec.json.encode(status)],
        )

    async def renew(self, installation_id: str, slot: str, token: str, ttl_s: float) -> bool:
        """Extend the lease; False when it was lost (expired and taken, or reset)."""
        done = await self._renew(
            keys=[self._lease(installation_id, slot)], args=[token, int(ttl_s * 1000)]
        )
        return bool(done)

    async def release(self, installation_id: str, slot: str, token: str) -> None:
        """Give the lease back if it is still ours."""
        await self._release(keys=[self._lease(installation_id, slot)], args=[token])

    # Cursors -----------------------------------------------------------------------------

    async def cursor(self, installation_id: str, slot: str) -> str | None:
        """The committed cursor (None: the stream starts from the beginning)."""
        raw = await self.redis.hget(self._keys(installation_id)["cursors"], slot)
        return _text(raw) if raw is not None else None

    def commit(
        self,
        installation_id: str,
        slot: str,
        token: str,
        cursor: str | None,
        entry: CursorEntry,
        status: StreamStatus | None = None,
    ) -> Queue:
        """The cursor commit, to queue on a pipeline (with the page's dedupe confirm): it
        moves the cursor iff `token` still holds the lease and the fence, answering 1, else 0.

        The history keeps one entry per run (updated page by page) plus admin changes;
        `status` (the run's progress) is stored in the same call.
        """
        keys = self._keys(installation_id)
        words = (
            self._lease(installation_id, slot),
            keys["fence"],
            keys["cursors"],
            self._history(installation_id, slot),
            keys["heads"],
            keys["status"],
            token,
            slot,
            "1" if cursor is not None else "0",
            cursor or "",
            msgspec.json.encode(entry),
            self.history_limit,
            entry.run_id or "",
            msgspec.json.encode(status) if status is not None else "",
        )

        def queue(pipe: Pipeline) -> None:
            pipe.eval(_COMMIT, 6, *words)

        return queue

    async def set_cursor(
        self, installation_id: str, slot: str, cursor: str | None, entry: CursorEntry
    ) -> None:
        """An admin's reset (None) or restore; fences off any run in flight."""
        keys = self._keys(installation_id)
        await self._admin_set(
            keys=[
                keys["fence"],
                keys["cursors"],
                self._history(installation_id, slot),
                keys["heads"],
            ],
            args=[
                slot,
                "1" if cursor is not None else "0",
                cursor or "",
                msgspec.json.encode(entry),
                self.history_limit,
            ],
        )

    async def history(self, installation_id: str, slot: str) -> list[CursorEntry]:
        """Committed cursors, newest first."""
        raw = await self.redis.lrange(self._history(installation_id, slot), 0, -1)
        return [_entry.decode(item) for item in raw]

    # Status ------------------------------------------------------------------------------

    async def save_status(self, slot: str, status: StreamStatus) -> None:
        """Keep the latest status of one slot."""
        await self.redis.hset(
            self._keys(status.installation_id)["status"], slot, msgspec.json.encode(status)
        )

    async def save_statuses(self, statuses: dict[str, StreamStatus]) -> None:
        """Keep the latest status of several slots of one installation (one write)."""
        first = next(iter(statuses.values()))
        await self.redis.hset(
            self._keys(first.installation_id)["status"],
            mapping={slot: msgspec.json.encode(s) for slot, s in statuses.items()},
        )

    async def status(self, installation_id: str, slot: str) -> StreamStatus | None:
        """The latest status of one slot, or None."""
        raw = await self.redis.hget(self._keys(installation_id)["status"], slot)
        return _status.decode(raw) if raw is not None else None

    async def statuses(self, installation_id: str) -> dict[str, StreamStatus]:
        """Every slot's latest status."""
        raw = await self.redis.hgetall(self._keys(installation_id)["status"])
        return {_text(slot): _status.decode(value) for slot, value in raw.items()}

    async def drop(self, installation_id: str, slots: list[str]) -> None:
        """Forget an installation's cursors, history and status (uninstall or a slot gone)."""
        keys = self._keys(installation_id)
        pipe = self.redis.pipeline(transaction=False)
        for slot in slots:
            pipe.hdel(keys["cursors"], slot)
            pipe.hdel(keys["status"], slot)
            pipe.hdel(keys["heads"], slot)
            pipe.delete(self._history(installation_id, slot))
        await pipe.execute()

    async def drop_installation(self, installation_id: str) -> list[str]:
        """Forget everything of an uninstalled installation; the slots it had."""
        keys = self._keys(installation_id)
        slots = [_text(s) for s in await self.redis.hkeys(keys["status"])]
        slots += [_text(s) for s in await self.redis.hkeys(keys["cursors"])]
        slots = sorted(set(slots))
        await self.drop(installation_id, slots)
        return slots

    # Run requests ------------------------------------------------------------------------

    async def request_run(self, installation_id: str, slot: str, full: bool) -> float:
        """Queue a run for whichever replica owns the installation; returns the request time."""
        at = time.time()
        await self.redis.zadd(RUN_REQUESTS, {f"{installation_id}\t{slot}\t{int(full)}": at})
        return at

    async def run_requests(self) -> list[tuple[str, str, bool]]:
        """Every queued request (installation, slot, full)."""
        raw = await self.redis.zrange(RUN_REQUESTS, 0, 999)
        found = []
        for member in raw:
            installation_id, slot, full = _text(member).split("\t")
            found.append((installation_id, slot, full == "1"))
        return found

    async def take_run_request(self, installation_id: str, slot: str, full: bool) -> bool:
        """Remove a request; True for the one replica that removed it."""
        member = f"{installation_id}\t{slot}\t{int(full)}"
        return bool(await self.redis.zrem(RUN_REQUESTS, member))
