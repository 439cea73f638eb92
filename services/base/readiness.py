"""Whether a service may take traffic: its dependencies answer and its own conditions hold.

`/readyz` reports every check by name. The built-in ones are Redis (PING), Kafka (metadata
through the producer) and the consumers (each holds partitions); a service adds its own
(`checks["snapshots"] = follower.ready`). `warnings` are conditions an operator must know
about although the service is ready (development-only modes).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any


class Readiness:
    """Named readiness checks of one service, probed on demand."""

    def __init__(self) -> None:
        self.checks: dict[str, Callable[[], bool]] = {}
        self.warnings: list[str] = []

    async def report(
        self, redis: Any, producer: Any | None, consumers: Callable[[], bool]
    ) -> dict[str, bool]:
        """Per dependency: Redis PING, Kafka metadata, consumers assigned, plus `checks`."""
        report = {"redis": False, "kafka": False, "consumers": consumers()}
        try:
            report["redis"] = bool(await asyncio.wait_for(redis.ping(), 2))
        except Exception:
            report["redis"] = False
        if producer is not None:
            try:
                await asyncio.wait_for(producer.client.fetch_all_metadata(), 2)
                report["kafka"] = True
            except Exception:
                report["kafka"] = False
        for name, check in self.checks.items():
            report[name] = check()
        return report
