"""Exactly one canonical record per idempotency key, without ever losing one to a failed publish.

A key moves through two states in Redis: *pending* (`SET NX`, value = the claiming delivery's
token, short TTL) while its record is being published, then *done* (`d`, TTL ≥ the providers'
retry horizon) once Kafka acknowledged it. A publish that fails releases its pending claims
(compare-and-delete), and a process that dies mid-publish leaves claims that expire after
`pending_s`, so a provider's retry is never dropped as a duplicate of a record that was never
written. A duplicate that finds a key pending waits for the claimant's outcome (bounded) and
answers only once the record is durable, or 503 if it is not resolved in time.
The one remaining window (record acknowledged, process gone before marking it done) can yield
a second record with the same key; every record carries its key so subscribers drop it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from services.ingress.errors import DependencyUnavailable
from services.ingress.schemas import DeliverySummary
from services.ingress.store import IngressStore

DONE = b"d"


@dataclass
class Claims:
    """Which of a delivery's keys it must publish (`mine`) and which were ingested before."""

    token: str
    mine: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)


class Deduplicator:
    """Claims idempotency keys before publishing and confirms or releases them after."""

    def __init__(self, store: IngressStore, *, ttl_s: int, pending_s: float, wait_s: float) -> None:
        self.store = store
        self.ttl_s = ttl_s
        self.pending_ms = int(pending_s * 1000)
        self.wait_s = wait_s

    async def claim(self, keys: list[str], token: str) -> Claims:
        """Claim every key not yet done; wait out keys another delivery is publishing right now."""
        claims = Claims(token=token)
        todo = list(dict.fromkeys(keys))
        deadline = time.monotonic() + self.wait_s
        delay = 0.002
        while todo:
            try:
                holders = await self.store.claim(todo, token, self.pending_ms)
            except Exception as error:
                await self.release(claims)
                raise DependencyUnavailable("redis") from error
            waiting = []
            for key, holder in zip(todo, holders, strict=True):
                if holder is None or holder.decode() == token:
                    claims.mine.append(key)
                elif holder == DONE:
                    claims.duplicates.append(key)
                else:
                    waiting.append(key)
            todo = waiting
            if todo:
                if time.monotonic() >= deadline:
                    await self.release(claims)
                    raise DependencyUnavailable("dedupe_pending")
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.05)
        return claims

    async def confirm(self, claims: Claims, summary: DeliverySummary | None = None) -> None:
        """Mark published keys done (and record the delivery); failures are left to expiry."""
        await self.store.confirm(claims.mine, self.ttl_s, summary)

    async def release(self, claims: Claims) -> None:
        """Give back claims whose records were not acknowledged; best effort (they also expire)."""
        if not claims.mine:
            return
        try:
            await self.store.release(claims.mine, claims.token)
        except Exception:
            pass  # Redis is down too: the pending claims expire after pending_s
        claims.mine = []
