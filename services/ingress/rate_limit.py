"""Per-installation rate limit of API routes, shared by every ingress replica (Valkey).

A fixed window per installation: `INCR` of the installation's `ratelimit:<window>` key with
an expiry, one round trip per call (in the service's per-tick pipeline). Past the limit a
call is refused with the seconds left in the window (the `Retry-After` of the 429) and no
extension code runs. Bursts at a window edge may reach twice the limit over a short span: the
limit protects the workers, it is not a billing meter.
"""

from __future__ import annotations

import math
import time

from redis.asyncio.client import Pipeline

from services.base.dedupe.tick import TickPipeline, checked
from services.base.keys import installation_key


class RateLimiter:
    """At most `limit` calls per `window_s` per installation."""

    def __init__(self, tick: TickPipeline, limit: int, window_s: float) -> None:
        self.tick = tick  # the service's per-tick pipeline (`services.base.dedupe.tick`)
        self.limit = limit
        self.window_s = window_s

    async def retry_after(self, installation_id: str) -> int | None:
        """None when the call may run; else the whole seconds until the window ends."""
        if self.limit <= 0:
            return None
        now = time.time()
        window = int(now // self.window_s)
        key = installation_key(installation_id, "ratelimit", str(window))
        expiry = math.ceil(self.window_s) + 1

        def queue(pipe: Pipeline) -> None:
            pipe.incr(key)
            pipe.expire(key, expiry, nx=True)

        count, _ = checked(await self.tick.run(queue))
        if int(count) <= self.limit:
            return None
        return max(1, math.ceil((window + 1) * self.window_s - now))
