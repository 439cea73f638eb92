"""Exactly one canonical record per idempotency key, without ever losing one to a failed publish.

A key moves through two states in Redis: *pending* (`SET NX`, value = the claiming caller's
token, short TTL) while its record is being published, then *done* (`d`, TTL ≥ the providers'
retry horizon) once Kafka acknowledged it. A publish that fails releases its pending claims
(compare-and-delete), and a process that dies mid-publish leaves claims that expire after
`pending_s`, so a retry is never dropped as a duplicate of a record that was never written.
A duplicate that finds a key pending waits for the claimant's outcome (bounded) and is
answered only once the record is durable, or `DependencyUnavailable` if it is not resolved in
time.
A publish that timed out is not a publish that failed (the broker may still write it), so
its claims are not released at once: they stay pending until the producer settles, then
become done (acked) or *uncertain* (`u:<sent_at_ms>`). The next claim of an uncertain key
looks for the record on the canonical topic (`verify`) before publishing it again.
Ingress marks keys done right after answering the provider (not before), so the answer does
not wait for that round trip, and the confirm rides along with the next Redis pipeline (≤ 1 ms
later); a duplicate arriving in between finds the key pending and waits for it as above.
The one remaining window (record acknowledged, process gone before marking it done) can
yield a second record with the same key once the pending claim expired; every record carries
its key so subscribers drop it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from services.base.dedupe.store import DONE, DedupeStore
from services.base.dedupe.tick import Queue
from services.base.errors import DependencyUnavailable

UNCERTAIN = b"u:"
Verify = Callable[[str, str, int], Awaitable[bool]]  # installation, idempotency key, since ms


@dataclass
class Claims:
    """Which of a caller's keys it must publish (`mine`) and which were ingested before."""

    token: str
    mine: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)


class Deduplicator:
    """Claims idempotency keys before publishing and confirms or releases them after."""

    def __init__(
        self,
        store: DedupeStore,
        *,
        ttl_s: int,
        pending_s: float,
        wait_s: float,
        verify: Verify,
    ) -> None:
        self.store = store
        self.verify = verify
        self.ttl_s = ttl_s
        self.pending_ms = int(pending_s * 1000)
        self.wait_s = wait_s

    async def claim(self, keys: list[str], token: str) -> Claims:
        """Claim every key not yet done; wait out keys another caller is publishing right now.

        Raises DependencyUnavailable (`redis`, `kafka` or `dedupe_pending`, claims released).
        """
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
                elif holder.startswith(UNCERTAIN):
                    await self._resolve(key, holder, claims)
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

    async def _resolve(self, key: str, holder: bytes, claims: Claims) -> None:
        """An earlier publish of `key` timed out: was the record written after all?"""
        installation_id, idempotency_key = self.store.parse_dedupe_key(key)
        try:
            since_ms = int(holder[len(UNCERTAIN) :])
            written = await self.verify(installation_id, idempotency_key, since_ms)
        except Exception as error:
            await self.release(claims)
            raise DependencyUnavailable("kafka") from error
        if written:
            await self.store.swap(key, holder, DONE, self.ttl_s * 1000)
            claims.duplicates.append(key)
        elif await self.store.swap(key, holder, claims.token, self.pending_ms):
            claims.mine.append(key)
        else:  # someone resolved it first: look again
            holders = await self.store.peek([key])
            if holders[0] == DONE:
                claims.duplicates.append(key)
            else:
                await self.release(claims)
                raise DependencyUnavailable("dedupe_pending")

    async def settle(
        self, claims: Claims, unsettled: Sequence[Awaitable[object]], sent_at_ms: int
    ) -> None:
        """After a timed-out publish: done if every record was acked after all, else uncertain."""
        try:
            acks = await asyncio.wait_for(
                asyncio.gather(*unsettled, return_exceptions=True), self.pending_ms / 1000
            )
        except TimeoutError:
            return  # still unknown: the pending claims expire and a retry starts over
        if len(acks) == len(claims.mine) and not any(isinstance(a, BaseException) for a in acks):
            await self.store.confirm(claims.mine, self.ttl_s)
            return
        for key in claims.mine:
            marker = UNCERTAIN + str(sent_at_ms).encode()
            await self.store.swap(key, claims.token, marker, self.ttl_s * 1000)

    async def confirm(
        self, claims: Claims, also: Queue | None = None, *, defer: bool = False
    ) -> None:
        """Mark published keys done (plus the caller's `also` writes); failures are left to expiry.

        `defer`: ride along with the next Redis round trip (≤ `tick.DEFER_S` later).
        """
        await self.store.confirm(claims.mine, self.ttl_s, also, defer=defer)

    async def release(self, claims: Claims) -> None:
        """Give back claims whose records were not acknowledged; best effort (they also expire)."""
        if not claims.mine:
            return
        try:
            await self.store.release(claims.mine, claims.token)
        except Exception:
            pass  # Redis is down too: the pending claims expire after pending_s
        claims.mine = []
