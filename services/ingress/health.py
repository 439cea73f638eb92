"""Webhook health per installation: counted in memory, flushed to Redis, read across replicas.

Counting never touches Redis on the request path; a flush that fails keeps the counts for the
next one, so an outage delays health figures but does not lose them (a crash loses at most
one flush interval). Each flush also publishes one `WebhookHealthWindow` per installation
that received anything to `ingress.webhook-health.v1` (the logs service's health view and
5xx-rate alerts): windows the broker did not acknowledge are kept (bounded) and sent with the
next flush, so a broker outage delays them rather than losing them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from contracts.health import WebhookHealthWindow
from services.ingress.schemas import WebhookHealth
from services.ingress.store import IngressStore

log = logging.getLogger(__name__)
PublishWindows = Callable[[list[WebhookHealthWindow]], Awaitable[None]]
MAX_PENDING_WINDOWS = 10_000  # past this, the oldest unsent windows are dropped (and logged)


class HealthRecorder:
    """Counts answers per installation and status class; `flush` adds them to Redis."""

    def __init__(
        self,
        store: IngressStore,
        flush_s: float,
        *,
        replica: str = "ingress",
        workspace_of: Callable[[str], str | None] = lambda _installation_id: None,
        publish: PublishWindows | None = None,
    ) -> None:
        self.store = store
        self.flush_s = flush_s
        self.replica = replica
        self.workspace_of = workspace_of
        self.publish = publish
        self._counts: dict[str, dict[str, Any]] = {}
        self._window_start = time.time()
        self._unsent: list[WebhookHealthWindow] = []
        self._task: asyncio.Task[None] | None = None

    def observe(self, installation_id: str, status: int, reason: str | None = None) -> None:
        """Count one answer given for this installation's webhook URL."""
        now = time.time()
        counts = self._counts.setdefault(installation_id, {"n": 0})
        counts["n"] += 1
        bucket = f"{status // 100}xx"
        counts[bucket] = counts.get(bucket, 0) + 1
        counts["last_delivery_at"] = now
        if status < 300:
            counts["last_success_at"] = now
        else:
            counts["last_failure_at"] = now
            counts["last_failure_reason"] = reason or str(status)

    async def flush(self) -> None:
        """Add what was counted since the last flush; keep it on failure."""
        counts, self._counts = self._counts, {}
        await self._publish_windows(counts)
        if not counts:
            return
        try:
            await self.store.add_health(counts)
        except Exception:
            for installation_id, fields in counts.items():  # merge back for the next flush
                mine = self._counts.setdefault(installation_id, {"n": 0})
                for field, value in fields.items():
                    if field.startswith("last_"):
                        mine.setdefault(field, value)
                    else:
                        mine[field] = mine.get(field, 0) + value

    async def _publish_windows(self, counts: dict[str, dict[str, Any]]) -> None:
        """Publish this window's counts (plus any not yet acknowledged); keep them on failure."""
        start, self._window_start = self._window_start, time.time()
        for installation_id, fields in counts.items():
            workspace_id = self.workspace_of(installation_id)
            if workspace_id is None:
                continue  # unknown installation (404/410 answers): nobody's health to show
            self._unsent.append(
                WebhookHealthWindow(
                    workspace_id=workspace_id,
                    installation_id=installation_id,
                    replica=self.replica,
                    window_start=start,
                    window_end=self._window_start,
                    deliveries=int(fields.get("n", 0)),
                    status_2xx=int(fields.get("2xx", 0)),
                    status_4xx=int(fields.get("4xx", 0)),
                    status_5xx=int(fields.get("5xx", 0)),
                    last_delivery_at=fields.get("last_delivery_at"),
                    last_success_at=fields.get("last_success_at"),
                    last_failure_reason=fields.get("last_failure_reason"),
                )
            )
        if self.publish is None or not self._unsent:
            self._unsent.clear()
            return
        if len(self._unsent) > MAX_PENDING_WINDOWS:
            dropped = len(self._unsent) - MAX_PENDING_WINDOWS
            del self._unsent[:dropped]
            log.warning(
                "webhook health windows dropped after a long broker outage",
                extra={"windows": dropped},
            )
        windows, self._unsent = self._unsent, []
        try:
            await self.publish(windows)
        except Exception as error:
            self._unsent = windows + self._unsent
            log.warning(
                "webhook health windows not published; retrying next flush",
                extra={"windows": len(windows), "error": repr(error)},
            )

    def start(self) -> None:
        """Flush every `flush_s` in the background."""
        self._task = asyncio.create_task(self._run(), name="ingress-health-flush")

    async def stop(self) -> None:
        """Stop and flush once more."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.flush()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.flush_s)
            await self.flush()

    async def read(self, installation_id: str) -> WebhookHealth:
        """Figures for the console: counts, per-minute rate over 5 minutes, last success."""
        fields, per_minute = await self.store.health(installation_id)

        def number(name: str) -> int:
            return int(float(fields.get(name, 0)))

        def stamp(name: str) -> float | None:
            return float(fields[name]) if name in fields else None

        return WebhookHealth(
            installation_id=installation_id,
            deliveries_per_minute=sum(per_minute[:5]) / 5,
            last_hour=sum(per_minute),
            total=number("n"),
            status_2xx=number("2xx"),
            status_4xx=number("4xx"),
            status_5xx=number("5xx"),
            last_delivery_at=stamp("last_delivery_at"),
            last_success_at=stamp("last_success_at"),
            last_failure_at=stamp("last_failure_at"),
            last_failure_reason=fields.get("last_failure_reason"),
        )
