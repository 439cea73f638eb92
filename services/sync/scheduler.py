"""The partition-aware scheduler: every stream and job of the installations this replica owns.

A target runs at once (within a small jitter) when its installation becomes active, then on
its installation's grid: every interval at the installation's phase (a fraction of the
interval drawn from its id), at least half an interval after the activation run. Thousands of
installations spread evenly over an interval, while the streams of one installation come
due together and run back to back on its one warm runtime worker (a worker serves one
installation: scattering its streams would fork a worker for nearly every run).
A run that stopped at its page limit with pages left runs again at once; failures back off
exponentially (capped). At most `max_concurrent` runs at a time; a target is never started
while this replica still runs it, and the Redis lease keeps other replicas out. Admin run
requests (the HTTP API, served by any replica) are picked up from Redis by the owning replica
within one tick.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import heapq
import itertools
import logging
import math
import random
import time
from collections import deque

from contracts.installations import InstallationSnapshot
from contracts.streams import StreamState
from services.base.snapshots import SnapshotView
from services.sync.budget import RequestBudget
from services.sync.runs import Runner, RunOutcome
from services.sync.status import StatusBoard, StatusChange
from services.sync.store import SyncStore
from services.sync.targets import Target, declared_targets, targets_of

log = logging.getLogger(__name__)
Key = tuple[str, str]


class Scheduler:
    """Owns the targets of the assigned partitions and starts their runs when due."""

    def __init__(
        self,
        *,
        runner: Runner,
        store: SyncStore,
        board: StatusBoard,
        budget: RequestBudget,
        max_concurrent: int,
        jitter_fraction: float,
        view: SnapshotView,
        tick_s: float = 0.5,
    ) -> None:
        self.runner = runner
        self.store = store
        self.board = board
        self.budget = budget
        self.max_concurrent = max_concurrent
        self.jitter_fraction = jitter_fraction
        self.tick_s = tick_s
        self.view = view  # this replica's installations (the shared snapshot follower's)
        self.live: set[int] = set()
        self.targets: dict[Key, Target] = {}
        # The keys of `targets` by installation: a snapshot's reconcile touches only its own
        # (scanning every target per snapshot made taking over N installations O(N²)).
        self.keys_of: dict[str, set[Key]] = {}
        self.due_at: dict[Key, float] = {}
        self.running: dict[Key, asyncio.Task[None]] = {}
        self.stopping: set[Key] = set()  # runs asked to end at their next page boundary
        self.handover_s = 30.0  # longest a revocation waits for runs to reach a boundary
        self.phased: set[Key] = set()  # targets on their installation's grid (ran once)
        self.lateness: deque[float] = deque(maxlen=100_000)  # seconds late per started run
        self._heap: list[tuple[float, int, Key]] = []
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    # Lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start dispatching, picking up run requests and publishing statuses."""
        self.board.start()
        self._tasks = [
            asyncio.create_task(self._dispatch(), name="sync-dispatch"),
            asyncio.create_task(self._requests(), name="sync-run-requests"),
        ]

    async def stop(self) -> None:
        """Stop dispatching; runs in flight end at a page boundary (leases released)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._drain(list(self.running))
        await self.runner.close()
        await self.board.close()  # the last statuses of the runs that just ended

    # Partitions and snapshots (the snapshot follower's owner and view listener) -----------

    async def partitions_assigned(self, partitions: list[int]) -> None:
        log.info("snapshot partitions assigned", extra={"partitions": partitions})

    async def partitions_revoked(self, partitions: list[int]) -> None:
        gone = set(partitions)
        self.live -= gone
        installations = [s.installation_id for s in self.view.in_partitions(partitions)]
        keys = [k for i in installations for k in self.keys_of.get(i, ())]
        for key in keys:
            self._unschedule(key)
        await self._drain(keys)
        await self.board.flush(installations)  # on the topic before the next owner writes
        for installation_id in installations:  # the follower drops them from the view next
            self.board.forget(installation_id)
            self.budget.forget(installation_id)
        if partitions:
            log.info("snapshot partitions revoked", extra={"partitions": partitions})

    async def snapshot_changed(
        self, snapshot: InstallationSnapshot, previous: InstallationSnapshot | None
    ) -> None:
        """A newer snapshot is in the view (stale or repeated ones never reach here)."""
        if self.view.partition_of.get(snapshot.installation_id) in self.live:
            await self.reconcile(snapshot, previous=previous)

    async def partition_live(self, partition: int) -> None:
        self.live.add(partition)
        for snapshot in self.view.in_partitions([partition]):
            await self.reconcile(snapshot, previous=None)

    # Decisions ---------------------------------------------------------------------------

    async def reconcile(
        self, snapshot: InstallationSnapshot, previous: InstallationSnapshot | None
    ) -> None:
        """Make the scheduled targets of one installation match its snapshot."""
        inst = snapshot.installation_id
        wanted = {t.key: t for t in targets_of(snapshot)}
        for key in [k for k in self.keys_of.get(inst, ()) if k not in wanted]:
            self._unschedule(key)  # a run in flight finishes on the version it started with
        if snapshot.state == "uninstalled":
            # Its runs end first (at a page boundary, bounded, then cancelled): a run still in
            # flight after the drop wrote its stream's status back when it ended.
            await self._drain([k for k in self.running if k[0] == inst])
            await self.runner.uninstalled(inst)
            return
        if not wanted:
            paused = self._paused_state(snapshot)
            if paused is not None:
                pause = StatusChange(state=paused, next_run_at=None)
                await self.board.update_all([(t, pause) for t in declared_targets(snapshot)])
            return
        now = time.time()
        new = [t for k, t in wanted.items() if k not in self.targets and k not in self.running]
        self.targets.update(wanted)
        self.keys_of.setdefault(inst, set()).update(wanted)
        await self.board.load(inst, new)  # one read for the installation, not one per target
        announced = []
        for target in new:
            key = target.key
            status = await self.board.current(target)
            spread = min(1.0, target.every_s * self.jitter_fraction)
            due = now + spread * self._phase(inst)  # one installation's targets together
            if status.next_run_at is not None and status.state not in ("disabled", "needs_reauth"):
                # The schedule survives a rebalance or a restart: the previous owner stored
                # when this target is due next (now, for a run that stopped with pages left).
                due = max(due, status.next_run_at)
            self._schedule(key, due)
            gone = ("disabled", "needs_reauth", "running")  # running: its owner is gone
            state: StreamState = "idle" if status.state in gone else status.state
            announced.append((target, StatusChange(state=state, next_run_at=due)))
        await self.board.update_all(announced)  # one Redis write for the installation

    @staticmethod
    def _paused_state(snapshot: InstallationSnapshot) -> StreamState | None:
        if snapshot.oauth is not None and snapshot.oauth.status == "needs_reauth":
            return "needs_reauth"
        if snapshot.state == "disabled":
            return "disabled"
        return None

    @staticmethod
    def _phase(installation_id: str) -> float:
        """The installation's place in every interval, in [0, 1): the same on every replica."""
        digest = hashlib.blake2b(installation_id.encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2**64

    def _on_grid(self, target: Target, after: float) -> float:
        """The first time after `after` on the installation's grid for this interval."""
        every = target.every_s
        offset = self._phase(target.installation_id) * every
        return offset + (math.floor((after - offset) / every) + 1) * every

    def _schedule(self, key: Key, at: float) -> None:
        self.due_at[key] = at
        heapq.heappush(self._heap, (at, next(self._seq), key))
        self._wake.set()

    def _unschedule(self, key: Key) -> None:
        self.targets.pop(key, None)
        keys = self.keys_of.get(key[0])
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self.keys_of[key[0]]
        self.phased.discard(key)
        self.due_at.pop(key, None)  # its heap entry is skipped when popped

    async def run_now(self, installation_id: str, slot: str) -> bool:
        """Make a target due now; False when this replica does not schedule it."""
        key = (installation_id, slot)
        if key not in self.targets:
            return False
        self._schedule(key, time.time())
        return True

    # Loops -------------------------------------------------------------------------------

    async def _dispatch(self) -> None:
        while True:
            now = time.time()
            while self._heap and self._heap[0][0] <= now:
                at, _, key = self._heap[0]
                if self.due_at.get(key) != at or key not in self.targets:
                    heapq.heappop(self._heap)
                    continue
                if len(self.running) >= self.max_concurrent:
                    break
                heapq.heappop(self._heap)
                del self.due_at[key]
                if key in self.running:
                    self._schedule(key, now + 1.0)  # asked again while running: after it
                    continue
                self.lateness.append(now - at)
                self.running[key] = asyncio.create_task(self._run(key))
            delay = self.tick_s
            if self._heap and len(self.running) < self.max_concurrent:
                delay = max(0.0, min(delay, self._heap[0][0] - time.time()))
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):  # no task per wait, unlike wait_for
                    await self._wake.wait()

    async def _run(self, key: Key) -> None:
        target = self.targets[key]
        snapshot = self.view.get(target.installation_id)
        assert snapshot is not None  # targets leave with their installation
        try:
            await self.runner.run(
                target,
                snapshot,
                lambda: key in self.stopping,
                then=lambda outcome: self._after(key, outcome),
            )
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("run crashed", extra={"slot": target.slot})
        finally:
            self.running.pop(key, None)
            self.stopping.discard(key)
            self._wake.set()

    def _after(self, key: Key, outcome: RunOutcome) -> StatusChange:
        """Schedule a target's next run after `outcome`; the status change announcing it."""
        if key not in self.targets or key in self.due_at:  # unscheduled, or run-now
            return StatusChange()
        due = self._next_due(key, self.targets[key], outcome)
        if due is None:
            self._unschedule(key)
        else:
            self._schedule(key, due)
        return StatusChange(next_run_at=due)

    def _next_due(self, key: Key, target: Target, outcome: RunOutcome) -> float | None:
        """When a target runs next after `outcome` (None: not until its snapshot changes)."""
        now = time.time()
        if outcome.state == "needs_reauth":
            return None
        if outcome.state == "ok":
            if outcome.more:
                return now
            if key not in self.phased:
                # After the first run (the activation backfill, which runs at once) a target
                # joins its installation's grid, at least half an interval later: thousands
                # activated together spread evenly instead of firing together every interval.
                self.phased.add(key)
                return self._on_grid(target, now + target.every_s / 2)
            return self._on_grid(target, now)
        if outcome.state == "error":
            return now + self.runner.backoff_s(outcome.failures)
        # busy or lease lost: another replica has it now; look again soon
        return now + min(target.every_s, 5.0) * random.uniform(0.5, 1.0)

    async def _requests(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            try:
                for installation_id, slot, full in await self.store.run_requests():
                    if (installation_id, slot) not in self.targets:
                        continue
                    if await self.store.take_run_request(installation_id, slot, full):
                        await self.run_now(installation_id, slot)
            except Exception as error:
                log.warning("run requests not read", extra={"error": repr(error)})

    async def _drain(self, keys: list[Key]) -> None:
        """Let runs of `keys` end at a page boundary (bounded), then cancel what is left."""
        tasks = [self.running[k] for k in keys if k in self.running]
        self.stopping.update(k for k in keys if k in self.running)
        if tasks:
            await asyncio.wait(tasks, timeout=self.handover_s)
        await self._cancel(keys)

    async def _cancel(self, keys: list[Key]) -> None:
        tasks = [self.running[k] for k in keys if k in self.running]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
