"""Per-stream status: kept in Redis (the API reads it) and published on every change.

Published on `sync.stream-status.v1` (compacted by installation and stream, acks=all) for the
active version's streams and jobs; an observation version's runs keep their status in Redis
and in the API only, since the topic's key (installation:stream) would overwrite the active
stream's status with the observation's. An uninstalled installation's keys get tombstones.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import msgspec
from aiokafka import AIOKafkaProducer

from contracts.streams import StreamStatus
from contracts.topics import STREAM_STATUS
from services.base.kafka import publish
from services.sync.store import SyncStore
from services.sync.targets import Target

log = logging.getLogger(__name__)


def initial_status(target: Target) -> StreamStatus:
    """A stream or job that never ran."""
    return StreamStatus(
        workspace_id=target.workspace_id,
        installation_id=target.installation_id,
        extension_key=target.extension_key,
        stream=target.name,
        state="idle",
        at=time.time(),
        kind=target.kind,
        version_id=target.version_id,
        mode=target.mode,
    )


class StatusBoard:
    """The latest status of every target of this replica, persisted and published."""

    def __init__(self, store: SyncStore, producer: Any) -> None:
        self.store = store
        self.producer = producer  # callable → AIOKafkaProducer (exists once started)
        self.cache: dict[tuple[str, str], StreamStatus] = {}

    async def current(self, target: Target) -> StreamStatus:
        """This replica's view, else Redis, else a fresh idle status."""
        found = self.cache.get(target.key)
        if found is None:
            found = await self.store.status(target.installation_id, target.slot)
            found = found or initial_status(target)
            self.cache[target.key] = found
        return found

    async def update(self, target: Target, **changes: Any) -> StreamStatus:
        """Apply `changes`, store and publish the new status (only when something changed)."""
        current = await self.current(target)
        changes.setdefault("version_id", target.version_id)
        if all(getattr(current, k) == v for k, v in changes.items()) and current.at > 0:
            return current
        status = msgspec.structs.replace(current, at=time.time(), **changes)
        self.cache[target.key] = status
        await self.store.save_status(target.slot, status)
        if target.mode == "active":
            try:
                producer: AIOKafkaProducer = self.producer()
                await publish(producer, STREAM_STATUS, status)
            except Exception as error:
                # Kafka is unreachable: the run must not fail for its status line. The status
                # is stored (the API shows it) and the next change publishes it whole.
                log.warning("stream status not published", extra={"error": repr(error)})
        return status

    def forget(self, installation_id: str) -> None:
        """Drop the cached statuses of an installation that left this replica."""
        for key in [k for k in self.cache if k[0] == installation_id]:
            del self.cache[key]

    async def tombstone(self, installation_id: str, streams: list[str]) -> None:
        """Remove an uninstalled installation's statuses from the compacted topic."""
        producer: AIOKafkaProducer = self.producer()
        for stream in streams:
            key = f"{installation_id}:{stream}".encode()
            await producer.send_and_wait(STREAM_STATUS.name, None, key=key)
