"""Delivering one page of a run: its new records published once, its webhook-gap count.

The records go through `services.base.dedupe.once.PublishOnce`, the same claim → publish →
confirm-or-settle path as ingress: keys claimed in one Redis script for the page, the page's
records as a batch of their own for the installation's partition, every acknowledgement
awaited (`acks=all`) before the caller commits its cursor past the page; the claims are
confirmed in the same Redis round trip as that commit. A page that fails
part-way releases the claims of records never handed over and settles the others; the run
ends with the cursor at the last good page.
"""

from __future__ import annotations

import time

from contracts.installations import InstallationSnapshot
from contracts.streams import StreamStatus
from runtime.interface import Emission, InvocationResult
from runtime.pages import stamp_of
from services.base.dedupe.once import Origin, Published, PublishOnce
from services.base.dedupe.tick import Queue
from services.base.errors import DependencyUnavailable
from services.sync.targets import Target


class PageFailed(RuntimeError):
    """A page could not be read or delivered; the cursor stays at the last good page."""


class PageDelivery:
    """Publishes the new records of a page (active runs) and counts webhook gaps."""

    def __init__(self, once: PublishOnce, *, gap_window_s: float) -> None:
        self.once = once
        self.gap_window_s = gap_window_s

    async def deliver(
        self,
        target: Target,
        snapshot: InstallationSnapshot,
        result: InvocationResult,
        run_id: str,
        status: StreamStatus,
    ) -> tuple[int, int, Published]:
        """Publish the page's new records (acks=all); (records published, webhook-gap count,
        what to confirm with the cursor commit: `commit`)."""
        if target.mode != "active":  # the runtime published them to the observed topic
            return result.observed, 0, Published(claims=None)
        if not result.emissions:
            return 0, 0, Published(claims=None)
        origin = Origin(
            workspace_id=snapshot.workspace_id,
            installation_id=snapshot.installation_id,
            extension_key=snapshot.extension_key,
            version_id=target.version_id,
            source="stream",
            source_id=run_id,
        )
        try:
            published = await self.once.publish(origin, result.emissions, run_id)
        except DependencyUnavailable as error:
            raise PageFailed(f"records not published: {error.dependency}") from error
        fresh = {r.idempotency_key for r in published.records}
        new = [e for e in result.emissions if e.idempotency_key in fresh]
        return len(published.records), self._gaps(snapshot, new, status), published

    async def commit(self, published: Published, cursor_commit: Queue) -> bool:
        """The page's claims confirmed and its cursor committed in one Redis round trip (the
        claims first, whatever the commit answers: the records are on the topic); True when
        the commit held (the run's lease and fence were still its own)."""
        answers = await self.once.confirm(published, cursor_commit)
        return bool(answers[0])

    def _gaps(
        self, snapshot: InstallationSnapshot, fresh: list[Emission], status: StreamStatus
    ) -> int:
        """Webhook gap: records new to the shared dedupe store although older than the window.

        Only for a connector that also takes webhooks, and only after the stream's first
        successful sweep (the initial backfill finds every old record new, by design). A
        record whose key the webhook path had delivered is a duplicate, never `fresh`.
        """
        manifest = snapshot.active.manifest if snapshot.active else None
        if manifest is None or manifest.webhooks is None or status.last_success_at is None:
            return 0
        horizon = time.time() - self.gap_window_s
        stamps = (stamp_of(e.payload) for e in fresh)
        return sum(1 for s in stamps if isinstance(s, int | float) and s < horizon)
