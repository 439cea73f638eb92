"""Provider manners: a per-installation request budget (token bucket) for page calls.

All streams and jobs of one installation share one bucket, so six streams of one Stripe
account starting together do not trip Stripe's rate limit. The bucket lives in this process:
only the replica that owns an installation's snapshot partition schedules it. A 429 that still
comes back is handled by the runtime's outbound client, which waits for `Retry-After`.
"""

from __future__ import annotations

import asyncio
import time


class RequestBudget:
    """`rate` calls per second per installation, bursting up to `burst`."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(max(burst, 1))
        self._buckets: dict[str, tuple[float, float]] = {}  # installation → (tokens, at)

    async def take(self, installation_id: str) -> float:
        """Wait until one call is allowed; returns the seconds waited."""
        if self.rate <= 0:
            return 0.0
        waited = 0.0
        while True:
            now = time.monotonic()
            tokens, at = self._buckets.get(installation_id, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            if tokens >= 1:
                self._buckets[installation_id] = (tokens - 1, now)
                return waited
            self._buckets[installation_id] = (tokens, now)
            pause = (1 - tokens) / self.rate
            waited += pause
            await asyncio.sleep(pause)

    def forget(self, installation_id: str) -> None:
        """Drop an installation's bucket (it left this replica)."""
        self._buckets.pop(installation_id, None)
