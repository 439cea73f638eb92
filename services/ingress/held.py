"""Held deliveries: what arrived while an installation was disabled, processed on re-enable.

Each held delivery is already verified and durable on the deliveries topic; the queue in
Redis holds their ids in arrival order. When a snapshot shows the installation active, one
replica (Redis lock) processes the queue head first, removing an entry only after its
records were acknowledged, so a crash re-processes at most the head (dedupe makes that
harmless). Kafka or Redis trouble pauses the drain and it retries with backoff.
"""

from __future__ import annotations

import asyncio
import logging

from contracts.ids import new_id
from contracts.installations import InstallationSnapshot
from services.base.snapshots import SnapshotView
from services.ingress.deliveries import DeliveryReader
from services.ingress.service import WebhookIngress
from services.ingress.store import IngressStore

log = logging.getLogger(__name__)
LOCK_S = 60


class HeldQueue:
    """Drains an installation's held deliveries in order once it is active again."""

    def __init__(
        self,
        view: SnapshotView,
        ingress: WebhookIngress,
        store: IngressStore,
        reader: DeliveryReader,
    ) -> None:
        self.view = view
        self.ingress = ingress
        self.store = store
        self.reader = reader
        self.owner = new_id("drain")
        self._running: dict[str, asyncio.Task[None]] = {}

    async def on_snapshot(
        self, snapshot: InstallationSnapshot, _: InstallationSnapshot | None
    ) -> None:
        """View listener: an active installation may have a queue to drain."""
        iid = snapshot.installation_id
        if snapshot.state == "active" and iid not in self._running:
            task = asyncio.create_task(self._drain_until_done(iid), name=f"held-{iid}")
            self._running[iid] = task
            task.add_done_callback(lambda _: self._running.pop(iid, None))

    async def stop(self) -> None:
        """Stop draining; unfinished entries stay queued for the next replica."""
        for task in list(self._running.values()):
            task.cancel()
        await asyncio.gather(*self._running.values(), return_exceptions=True)

    async def _drain_until_done(self, installation_id: str) -> None:
        delay = 0.2
        while True:
            try:
                await self.drain(installation_id)
                return
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning(
                    "held drain paused",
                    extra={"installation_id": installation_id, "error": repr(error)},
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def drain(self, installation_id: str) -> int:
        """Process the queue while the installation stays active; return how many were done."""
        if await self.store.next_held(installation_id) is None:
            return 0
        if not await self.store.lock_held(installation_id, self.owner, LOCK_S):
            raise RuntimeError("another replica is draining")  # retried until it finishes
        done = 0
        try:
            while (delivery_id := await self.store.next_held(installation_id)) is not None:
                snapshot = self.view.get(installation_id)
                if snapshot is None or snapshot.state != "active" or snapshot.active is None:
                    return done  # disabled again: the rest waits for the next enable
                await self._process(snapshot, delivery_id)
                await self.store.drop_held(installation_id, delivery_id)
                done += 1
        finally:
            await self.store.unlock_held(installation_id, self.owner)
        return done

    async def _process(self, snapshot: InstallationSnapshot, delivery_id: str) -> None:
        summary = await self.store.delivery(snapshot.installation_id, delivery_id)
        version = snapshot.active
        webhooks = version.manifest.webhooks if version else None
        if summary is None or summary.partition is None or summary.offset is None:
            log.error("held delivery lost its history entry", extra={"delivery_id": delivery_id})
            return
        where = (summary.partition, summary.offset)
        delivery = (await self.reader.fetch([where])).get(where)
        if delivery is None or version is None or webhooks is None:
            log.error("held delivery cannot be processed", extra={"delivery_id": delivery_id})
            return
        # Its signature was verified on arrival; re-checking now would fail the timestamp window.
        await self.ingress.process(
            snapshot, delivery, "held", version=version, webhooks=webhooks, stored=summary
        )
