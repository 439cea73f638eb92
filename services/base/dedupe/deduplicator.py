"""Exactly one canonical record per idempotency key, without ever losing one to a failed publish.

A key moves through two states in Redis: *pending* (`SET NX`, value
`p:<claimed_at_ms>:<stale_at_ms>:<process>.<token>`: the claiming caller and how long it may
take) while its record is being published, then *done* (`d`, TTL ≥ the providers' retry
horizon) once Kafka acknowledged it. A publish that fails releases its
pending claims (compare-and-delete). A claim past its claimant's `pending_s` belongs to a
caller that died or gave up mid-publish: the next claimant trusts it neither way but looks for
the record on the canonical topic (`verify`, from the claim's time) and publishes only if it
is not there, so a retry is never dropped as a duplicate of a record that was never written,
and a record acknowledged just before its claimant died (confirm not yet sent) is not
written twice.
A duplicate that finds a key pending (and young) waits for the claimant's outcome (bounded)
and is answered only once the record is durable, or `DependencyUnavailable` if it is not
resolved in time.
A publish that timed out is not a publish that failed (the broker may still write it), so
its claims are not released at once: they stay pending until the producer settles, then
become done (acked) or *uncertain* (`u:<sent_at_ms>`), resolved through `verify` the same way.
Ingress marks keys done right after answering the provider (not before), so the answer does
not wait for that round trip; the confirm is deferred (`services.base.dedupe.tick`, which
states the guarantee) and a duplicate arriving in between waits for it as above.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from services.base.dedupe.store import DONE, DedupeStore
from services.base.dedupe.tick import Queue
from services.base.errors import DependencyUnavailable

UNCERTAIN = b"u:"
PENDING = b"p:"
CLOCK_MARGIN_MS = 1_000  # producer timestamps may trail the claim by this much (clock skew)
Verify = Callable[[str, str, int], Awaitable[bool]]  # installation, idempotency key, since ms


@dataclass
class Claims:
    """Which of a caller's keys it must publish (`mine`) and which were ingested before."""

    token: str
    value: str = ""  # what this caller's pending claims hold (see the module docstring)
    stale_at_ms: int = 0  # past this, another claimant checks the topic instead of waiting
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
        # A claim outlives its pending time (until resolved, or the done horizon): a claimant
        # that died leaves evidence the next one checks instead of a key that just vanished.
        self.claim_ttl_ms = max(self.ttl_s * 1000, self.pending_ms * 2)
        # Claims name their process: a caller's token (a change id, a held delivery's id) is
        # the same in the process that replays the work after a crash, which must not take
        # the dead process' claim as its own retry (the record may have been acknowledged).
        self.instance = uuid.uuid4().hex[:12]

    async def claim(self, keys: list[str], token: str) -> Claims:
        """Claim every key not yet done; wait out keys another caller is publishing right now.

        Raises DependencyUnavailable (`redis`, `kafka` or `dedupe_pending`, claims released).
        """
        token = f"{self.instance}.{token}"
        # The deadline covers the whole claim (waiting included) and the publish after it: a
        # key taken at the end of the wait is as young as one taken at once.
        now_ms = int(time.time() * 1000)
        stale_at_ms = now_ms + int(self.wait_s * 1000) + self.pending_ms
        claims = Claims(
            token=token, value=f"p:{now_ms}:{stale_at_ms}:{token}", stale_at_ms=stale_at_ms
        )
        todo = list(dict.fromkeys(keys))
        deadline = time.monotonic() + self.wait_s
        delay = 0.002
        while todo:
            try:
                holders = await self.store.claim(todo, claims.value, self.claim_ttl_ms)
            except Exception as error:
                await self.release(claims)
                raise DependencyUnavailable("redis") from error
            waiting = []
            # Keys taken by this SET NX are ours before anything below can fail (and release).
            claims.mine.extend(
                key
                for key, holder in zip(todo, holders, strict=True)
                if holder is None or holder == claims.value.encode()
            )
            for key, holder in zip(todo, holders, strict=True):
                if holder is None or holder == claims.value.encode():
                    continue
                elif holder == DONE:
                    claims.duplicates.append(key)
                elif holder.startswith(UNCERTAIN):
                    await self._resolve(key, holder, int(holder[len(UNCERTAIN) :]), claims)
                elif not holder.startswith(PENDING):
                    waiting.append(key)  # an older release's bare token: expires by itself
                else:
                    claimed_at, stale_at, holder_token = holder[len(PENDING) :].split(b":", 2)
                    if time.time() * 1000 > int(stale_at):
                        # Its claimant is gone (or gave up), our own earlier try included: the
                        # record may have been acknowledged before it died.
                        since_ms = int(claimed_at) - CLOCK_MARGIN_MS
                        await self._resolve(key, holder, since_ms, claims)
                    elif holder_token.decode() == token:  # our own retry, in time: take it
                        if await self.store.swap(key, holder, claims.value, self.claim_ttl_ms):
                            claims.mine.append(key)
                        else:
                            waiting.append(key)
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

    async def _resolve(self, key: str, holder: bytes, since_ms: int, claims: Claims) -> None:
        """Was the record of `key` written after all (a publish timed out, or its claimant
        died)? Done if the canonical topic has it since `since_ms`, else claimed by us."""
        installation_id, idempotency_key = self.store.parse_dedupe_key(key)
        try:
            written = await self.verify(installation_id, idempotency_key, since_ms)
        except Exception as error:
            await self.release(claims)
            raise DependencyUnavailable("kafka") from error
        if written:
            await self.store.swap(key, holder, DONE, self.ttl_s * 1000)
            claims.duplicates.append(key)
        elif await self.store.swap(key, holder, claims.value, self.claim_ttl_ms):
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
        # Only until the claims go stale: past that another claimant may look on the topic.
        left_s = (claims.stale_at_ms - time.time() * 1000) / 1000
        try:
            acks = await asyncio.wait_for(
                asyncio.gather(*unsettled, return_exceptions=True),
                max(0.0, min(left_s, self.pending_ms / 1000)),
            )
        except TimeoutError:
            return  # still unknown: the next claimant finds the claims stale and verifies
        if len(acks) == len(claims.mine) and not any(isinstance(a, BaseException) for a in acks):
            await self.store.confirm(claims.mine, self.ttl_s)
            return
        for key in claims.mine:
            marker = UNCERTAIN + str(sent_at_ms).encode()
            await self.store.swap(key, claims.value, marker, self.ttl_s * 1000)

    async def confirm(
        self, claims: Claims, also: Queue | None = None, *, defer: bool = False
    ) -> list[Any]:
        """Mark published keys done (plus the caller's `also` writes, whose results it
        returns); failures are left to expiry.

        `defer`: a deferred confirm (`services.base.dedupe.tick`).
        """
        return await self.store.confirm(claims.mine, self.ttl_s, also, defer=defer)

    def confirm_later(self, claims: Claims, also: Queue | None = None) -> asyncio.Future[list[Any]]:
        """`confirm` after the answer, without a coroutine or a task (see
        `DedupeStore.confirm_later`); a failure is left to expiry as with `confirm`."""
        return self.store.confirm_later(claims.mine, self.ttl_s, also)

    async def release(self, claims: Claims) -> None:
        """Give back claims whose records were not acknowledged; best effort (they also expire)."""
        if not claims.mine:
            return
        try:
            await self.store.release(claims.mine, claims.value)
        except Exception:
            pass  # Redis is down too: the next claimant finds the claims stale and verifies
        claims.mine = []
