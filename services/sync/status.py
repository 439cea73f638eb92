"""Per-stream status: kept in Redis (the API reads it) and published on every change.

Published on `sync.stream-status.v1` (compacted by installation and stream, acks=all) for the
active version's streams and jobs; an observation version's runs keep their status in Redis
and in the API only, since the topic's key (installation:stream) would overwrite the active
stream's status with the observation's. An uninstalled installation's keys get tombstones.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Literal

import msgspec
from aiokafka import AIOKafkaProducer
from msgspec import UNSET, UnsetType

from contracts.streams import ScheduledKind, StreamState, StreamStatus
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


class StatusChange(msgspec.Struct, frozen=True, kw_only=True):
    """The fields of a `StreamStatus` one step changes; unset fields keep their value.

    Typed end to end: a run builds one, the scheduler adds the next due time (`then`), the
    board applies it. A misspelt or mistyped field fails at type-check time, not silently.
    """

    state: StreamState | UnsetType = UNSET
    run_id: str | UnsetType = UNSET
    mode: Literal["active", "observe", "draft"] | UnsetType = UNSET
    kind: ScheduledKind | UnsetType = UNSET
    cursor: str | UnsetType | None = UNSET
    last_run_at: float | UnsetType = UNSET
    last_success_at: float | UnsetType = UNSET
    next_run_at: float | UnsetType | None = UNSET
    pages_last_run: int | UnsetType = UNSET
    records_last_run: int | UnsetType = UNSET
    records_total: int | UnsetType = UNSET
    webhook_gap: int | UnsetType = UNSET
    consecutive_failures: int | UnsetType = UNSET
    error_count: int | UnsetType = UNSET
    last_error: str | UnsetType = UNSET
    last_error_at: float | UnsetType = UNSET

    def fields(self) -> dict[str, Any]:
        """The set fields, by name."""
        return {
            name: value
            for name in self.__struct_fields__
            if (value := getattr(self, name)) is not UNSET
        }

    def then(self, later: StatusChange) -> StatusChange:
        """This change followed by `later` (later's set fields win)."""
        return msgspec.structs.replace(self, **later.fields())


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

    async def load(self, installation_id: str, targets: list[Target]) -> None:
        """Read the stored statuses of `targets` (one installation's) in one call."""
        missing = [t for t in targets if t.key not in self.cache]
        if not missing:
            return
        stored = await self.store.statuses(installation_id)
        for target in missing:
            self.cache[target.key] = stored.get(target.slot) or initial_status(target)

    async def update(self, target: Target, change: StatusChange) -> StreamStatus:
        """Apply `change`, store and publish the new status (only when something changed)."""
        current = await self.current(target)
        status = self.changed(target, current, change)
        if status is None:
            return current
        await self.store.save_status(target.slot, status)
        await self.stored(target, status)
        return status

    @staticmethod
    def changed(target: Target, current: StreamStatus, change: StatusChange) -> StreamStatus | None:
        """`current` with `change` applied, or None when it changes nothing (not stored yet:
        the caller stores it, in one Redis call with its own writes, then calls `stored`)."""
        changes = {"version_id": target.version_id, **change.fields()}
        if all(getattr(current, k) == v for k, v in changes.items()) and current.at > 0:
            return None
        return msgspec.structs.replace(current, at=time.time(), **changes)

    async def stored(self, target: Target, status: StreamStatus) -> None:
        """`status` is in Redis now: remember it and publish it (active version only)."""
        self.cache[target.key] = status
        if target.mode == "active":
            try:
                producer: AIOKafkaProducer = self.producer()
                await publish(producer, STREAM_STATUS, status)
            except Exception as error:
                # Kafka is unreachable: the run must not fail for its status line. The status
                # is stored (the API shows it) and the next change publishes it whole.
                log.warning("stream status not published", extra={"error": repr(error)})

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
