"""Per-installation rate limit of API routes, shared by every ingress replica (Valkey).

A fixed window per installation: `INCR` of the installation's `ratelimit:<window>` key with
an expiry, one round trip per call. Past the limit a call is refused with the seconds left
in the window (the `Retry-After` of the 429) and no extension code runs. Bursts at a window
edge may reach twice the limit over a short span: the limit protects the workers, it is not
a billing meter.
"""

from __future__ import annotations

import math
import time

from redis.asyncio import Redis

from services.base.keys import installation_key


class RateLimiter:
    """At most `limit` calls per `window_s` per installation."""

    def __init__(self, redis: Redis, limit: int, window_s: float) -> None:
        self.redis = redis
        self.limit = limit
        self.window_s = window_s

    async def retry_after(self, installation_id: str) -> int | None:
        """None when the call may run; else the whole seconds until the window ends."""
        if self.limit <= 0:
            return None
        now = time.time()
        window = int(now // self.window_s)
        key = installation_key(installation_id, "ratelimit", str(window))
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.incr(key)
            pipe.expire(key, math.ceil(self.window_s) + 1, nx=True)
            count, _ = await pipe.execute()
        if int(count) <= self.limit:
            return None
        return max(1, math.ceil((window + 1) * self.window_s - now))
