"""Exactly one canonical record per idempotency key, shared with ingress' webhook path.

Same Redis keys and states as ingress (`{i:<installation>}:dedupe:<key>`: a pending claim
holding the claimant's token with a short TTL, then `d` once Kafka acknowledged the record,
kept for the retry horizon), so a record polled by sync and delivered by webhook exists once.
A key another publisher holds pending is waited for (bounded); if it is still pending the
page fails and is read again by the next run, from the same cursor. A claim whose publish
failed is released (compare-and-delete); one of a killed process expires after `pending_s`.
The remaining window: a record acknowledged by Kafka whose process died before marking it
done is published again once the claim expired; every record carries its key.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from redis.asyncio import Redis

from services.sync.store import tag

DONE = b"d"
_RELEASE = (
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
)


class KeysBusy(RuntimeError):
    """Some keys stayed pending under another publisher past the wait: retry the page later."""


@dataclass
class Claimed:
    """Keys this page must publish (`mine`, i.e. new to the store) and keys already done."""

    token: str
    mine: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)


class RecordDedupe:
    """Claims idempotency keys before publishing and confirms or releases them after."""

    def __init__(self, redis: Redis, *, ttl_s: int, pending_s: float, wait_s: float) -> None:
        self.redis = redis
        self.ttl_s = ttl_s
        self.pending_ms = int(pending_s * 1000)
        self.wait_s = wait_s
        self._release = redis.register_script(_RELEASE)

    @staticmethod
    def key(installation_id: str, idempotency_key: str) -> str:
        """Where one idempotency key's claim lives (ingress' layout)."""
        return f"{tag(installation_id)}:dedupe:{idempotency_key}"

    async def claim(self, installation_id: str, keys: list[str], token: str) -> Claimed:
        """Claim every key not yet done; wait (bounded) for keys pending under someone else."""
        claimed = Claimed(token=token)
        todo = list(dict.fromkeys(keys))
        deadline = time.monotonic() + self.wait_s
        delay = 0.01
        while todo:
            pipe = self.redis.pipeline(transaction=False)
            for k in todo:
                pipe.set(self.key(installation_id, k), token, nx=True, get=True, px=self.pending_ms)
            holders = await pipe.execute()
            waiting = []
            for k, holder in zip(todo, holders, strict=True):
                if holder is None or holder == token.encode():
                    claimed.mine.append(k)
                elif holder == DONE:
                    claimed.duplicates.append(k)
                else:
                    waiting.append(k)
            todo = waiting
            if todo:
                if time.monotonic() >= deadline:
                    await self.release(installation_id, claimed)
                    raise KeysBusy(f"{len(todo)} record keys are being published elsewhere")
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.5)
        return claimed

    async def confirm(self, installation_id: str, claimed: Claimed) -> None:
        """Mark the acknowledged keys done for the retry horizon."""
        if not claimed.mine:
            return
        pipe = self.redis.pipeline(transaction=False)
        for k in claimed.mine:
            pipe.set(self.key(installation_id, k), DONE, ex=self.ttl_s)
        await pipe.execute()

    async def release(self, installation_id: str, claimed: Claimed) -> None:
        """Give back claims whose records were not acknowledged (best effort: they expire)."""
        mine, claimed.mine = claimed.mine, []
        try:
            for k in mine:
                await self._release(keys=[self.key(installation_id, k)], args=[claimed.token])
        except Exception:
            pass  # Redis is gone too: the pending claims expire after pending_s
