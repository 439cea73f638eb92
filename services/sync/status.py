"""Per-stream status: kept in Redis on every change (the API reads it) and published,
coalesced, on `sync.stream-status.v1`.

The topic is compacted by installation and stream: its readers want each stream's latest
status, not every step. So a change is stored at once (with the run's own Redis writes) and
published off the run's path, at most once per `every_s` per stream: a `running` status waits
`gather_s` first (a one-page run's start and end travel as one message, its end), and the
latest status always goes out (also before a partition moves to another replica, and at
shutdown). A run never waits for the broker's acknowledgement
of its status; a status that could not be published is tried again `retry_s` later unless a
newer one replaced it.

Only the active version's streams and jobs are published; an observation version's runs keep
their status in Redis and in the API only, since the topic's key (installation:stream) would
overwrite the active stream's status with the observation's. An uninstalled installation's
keys get tombstones (any status still waiting is dropped first).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import time
from typing import Any, Literal

import msgspec
from aiokafka import AIOKafkaProducer
from msgspec import UNSET, UnsetType

from contracts.streams import ScheduledKind, StreamState, StreamStatus
from contracts.topics import STREAM_STATUS
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


Key = tuple[str, str]


class StatusBoard:
    """The latest status of every target of this replica, persisted and published."""

    def __init__(
        self,
        store: SyncStore,
        producer: Any,
        *,
        every_s: float = 1.0,
        gather_s: float = 0.25,
        retry_s: float = 5.0,
    ) -> None:
        self.store = store
        self.producer = producer  # callable → AIOKafkaProducer (exists once started)
        self.every_s = every_s
        self.gather_s = gather_s
        self.retry_s = retry_s
        self.cache: dict[Key, StreamStatus] = {}
        self._waiting: dict[Key, StreamStatus] = {}  # stored, not published yet
        self._due: list[tuple[float, Key]] = []  # when each waiting status goes out
        self._sent_at: dict[Key, float] = {}  # last publish per stream (monotonic)
        self._wake = asyncio.Event()
        self._publisher: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start publishing (the producer is connected)."""
        self._publisher = asyncio.create_task(self._publish_loop(), name="sync-status-publisher")

    async def close(self) -> None:
        """Publish every status still waiting (bounded by the producer's timeout), then stop."""
        if self._publisher is not None:
            self._publisher.cancel()
            await asyncio.gather(self._publisher, return_exceptions=True)
            self._publisher = None
        await self._send(list(self._waiting))

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
        self.stored(target, status)
        return status

    async def update_all(self, changes: list[tuple[Target, StatusChange]]) -> None:
        """`update` for several targets of one installation: one Redis write for all."""
        statuses = []
        for target, change in changes:
            status = self.changed(target, await self.current(target), change)
            if status is not None:
                statuses.append((target, status))
        if statuses:
            await self.store.save_statuses({t.slot: s for t, s in statuses})
        for target, status in statuses:
            self.stored(target, status)

    @staticmethod
    def changed(target: Target, current: StreamStatus, change: StatusChange) -> StreamStatus | None:
        """`current` with `change` applied, or None when it changes nothing (not stored yet:
        the caller stores it, in one Redis call with its own writes, then calls `stored`)."""
        changes = {"version_id": target.version_id, **change.fields()}
        if all(getattr(current, k) == v for k, v in changes.items()) and current.at > 0:
            return None
        return msgspec.structs.replace(current, at=time.time(), **changes)

    def stored(self, target: Target, status: StreamStatus) -> None:
        """`status` is in Redis now: remember it, and publish it soon (active version only)."""
        self.cache[target.key] = status
        if target.mode != "active":
            return
        key = target.key
        if key not in self._waiting:
            now = time.monotonic()
            soonest = now + (self.gather_s if status.state == "running" else 0.0)
            due = max(soonest, self._sent_at.get(key, -self.every_s) + self.every_s)
            heapq.heappush(self._due, (due, key))
            if self._due[0][1] == key:
                self._wake.set()
        self._waiting[key] = status  # a newer status replaces one not published yet

    async def flush(self, installation_ids: list[str]) -> None:
        """Publish at once what waits for these installations (they move to another replica:
        what this one knew must be on the topic before the next owner publishes)."""
        gone = set(installation_ids)
        await self._send([k for k in self._waiting if k[0] in gone])

    def forget(self, installation_id: str) -> None:
        """Drop the cached statuses of an installation that left this replica."""
        for key in [k for k in self.cache if k[0] == installation_id]:
            del self.cache[key]
        for key in [k for k in self._sent_at if k[0] == installation_id]:
            del self._sent_at[key]
        for key in [k for k in self._waiting if k[0] == installation_id]:
            del self._waiting[key]  # its heap entry finds nothing waiting

    async def tombstone(self, installation_id: str, streams: list[str]) -> None:
        """Remove an uninstalled installation's statuses from the compacted topic."""
        self.forget(installation_id)  # a status still waiting must not follow its tombstone
        producer: AIOKafkaProducer = self.producer()
        for stream in streams:
            key = f"{installation_id}:{stream}".encode()
            await producer.send_and_wait(STREAM_STATUS.name, None, key=key)

    async def _publish_loop(self) -> None:
        while True:
            now = time.monotonic()
            due = []
            while self._due and self._due[0][0] <= now:
                due.append(heapq.heappop(self._due)[1])
            if due:
                await self._send(due)
                continue
            self._wake.clear()
            timeout = self._due[0][0] - now if self._due else None
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wake.wait()

    async def _send(self, keys: list[Key]) -> None:
        """Publish the waiting statuses of `keys` together and await their acknowledgements;
        one that failed goes out again `retry_s` later unless a newer one replaced it."""
        sending = [(k, s) for k in keys if (s := self._waiting.pop(k, None)) is not None]
        if not sending:
            return
        now = time.monotonic()
        for key, _ in sending:
            self._sent_at[key] = now
        failed: BaseException | None = None
        try:
            producer: AIOKafkaProducer = self.producer()
            acks = [await STREAM_STATUS.send(producer, status) for _, status in sending]
        except asyncio.CancelledError:
            self._requeue(sending, time.monotonic())  # shutdown: `close` sends them again
            raise
        except Exception as error:
            failed = error
        else:
            try:
                results = await asyncio.gather(*acks, return_exceptions=True)
            except asyncio.CancelledError:
                self._requeue(sending, time.monotonic())
                raise
            errors = [r for r in results if isinstance(r, BaseException)]
            failed = errors[0] if errors else None
            sending = [
                ks for ks, r in zip(sending, results, strict=True) if isinstance(r, BaseException)
            ]
        if failed is None:
            return
        # Kafka is unreachable: the run does not fail for its status line. The status is
        # stored (the API shows it); it is published again later.
        log.warning("stream status not published", extra={"error": repr(failed)})
        self._requeue(sending, now + self.retry_s)

    def _requeue(self, sending: list[tuple[Key, StreamStatus]], due: float) -> None:
        """Send again at `due` what a newer status did not replace, unless its installation
        was forgotten meanwhile (uninstalled or moved: the stale status must not follow)."""
        for key, status in sending:
            if key not in self._waiting and key in self._sent_at:
                self._waiting[key] = status
                heapq.heappush(self._due, (due, key))
