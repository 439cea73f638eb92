"""One run of one stream or job: its lease, its pages until `has_more` is false, its cursor
committed per page, and how it ended (a typed `StatusChange`). Delivering a page's records
is `delivery.py`; forgetting an uninstalled installation is `Runner.uninstalled`.

Guarantees:
- Never two runs of one target at once: the run holds a Redis lease (renewed while it goes
  on) whose fencing token every cursor commit checks atomically; a run that lost its lease
  stops at its next commit without moving the cursor.
- A page's records are claimed in the shared dedupe store, published to the canonical topic
  and acknowledged (acks=all) before the cursor moves past the page, so a crash anywhere
  re-reads at most the page in flight, whose records dedupe.
- A failed page (outcome not ok, dedupe keys busy, publish not acknowledged) ends the run
  with the cursor at the last good page; the error is logged on the extension logs topic.
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from contracts.ids import new_id
from contracts.installations import InstallationSnapshot
from contracts.logs import ExtensionLogLine
from contracts.streams import StreamStatus
from contracts.topics import EXTENSION_LOGS
from runtime.interface import Invocation, InvocationResult, Invoker
from services.base.kafka import publish
from services.sync.budget import RequestBudget
from services.sync.delivery import PageDelivery, PageFailed
from services.sync.oauth import NeedsReauth, TokenSource
from services.sync.schemas import CursorEntry
from services.sync.status import StatusBoard, StatusChange
from services.sync.store import SyncStore
from services.sync.targets import Target

log = logging.getLogger(__name__)


class LeaseLost(RuntimeError):
    """Another run holds the stream now (or an admin moved the cursor): stop, commit nothing."""


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended, and its final status changes (the scheduler adds the next due time
    and stores them in one status update)."""

    state: str  # ok | error | busy | lease_lost | needs_reauth
    more: bool = False  # stopped at the page limit with pages left: run again soon
    failures: int = 0
    change: StatusChange = field(default_factory=StatusChange)


@dataclass(frozen=True)
class RunLimits:
    """Bounds of one run."""

    max_pages: int
    lease_ttl_s: float
    backoff_base_s: float
    backoff_max_s: float
    gap_window_s: float


class Runner:
    """Executes runs; holds no state of its own besides its collaborators."""

    def __init__(
        self,
        *,
        invoker: Invoker,
        store: SyncStore,
        delivery: PageDelivery,
        board: StatusBoard,
        budget: RequestBudget,
        tokens: TokenSource,
        producer: Any,
        limits: RunLimits,
    ) -> None:
        self.invoker = invoker
        self.store = store
        self.delivery = delivery
        self.board = board
        self.budget = budget
        self.tokens = tokens
        self.producer = producer
        self.limits = limits
        self.settling = delivery.once.settling  # timed-out publishes resolving their claims
        # The leases of the runs in flight, renewed together by one task (not one per run).
        self.leases: dict[tuple[str, str], str] = {}
        self._renewer: asyncio.Task[None] | None = None
        self.pages_fetched = 0  # every page call made by this process (bench and tests read it)

    async def uninstalled(self, installation_id: str) -> None:
        """Forget an uninstalled installation (its runs ended): cursors, history and status
        dropped, its streams' statuses tombstoned on the compacted topic."""
        slots = await self.store.drop_installation(installation_id)
        streams = sorted({s.split(":", 1)[1] for s in slots if "@" not in s})
        if streams:
            await self.board.tombstone(installation_id, streams)
        self.board.forget(installation_id)

    def backoff_s(self, failures: int) -> float:
        """Exponential in consecutive failures, capped."""
        return min(
            self.limits.backoff_base_s * 2 ** max(failures - 1, 0), self.limits.backoff_max_s
        )

    async def run(
        self,
        target: Target,
        snapshot: InstallationSnapshot,
        stopping: Callable[[], bool] = lambda: False,
        then: Callable[[RunOutcome], StatusChange] = lambda outcome: StatusChange(),
    ) -> RunOutcome:
        """Run `target` once if its lease is free; `busy` when another run holds it.

        `stopping()` is checked before every page: a run asked to stop (its partition is
        being revoked) ends at a page boundary, so the next owner never fetches a page this
        replica is still fetching. `then(outcome)` (the scheduler's next due time) joins the
        final status, stored with the lease's release in one Redis call: a run costs three
        calls (start, a commit per page, finish) besides its status lines on Kafka.
        """
        inst, slot = target.installation_id, target.slot
        before = await self.board.current(target)
        run_id = new_id("run")
        running = self.board.changed(
            target,
            before,
            StatusChange(
                state="running",
                run_id=run_id,
                last_run_at=time.time(),
                mode=target.mode,
                kind=target.kind,
            ),
        )
        assert running is not None  # a new run id is always a change
        started = await self.store.start(inst, slot, self.limits.lease_ttl_s, running)
        if started is None:
            busy = RunOutcome(state="busy")
            await self.board.update(target, then(busy))
            return busy
        token, cursor = started
        self.board.stored(target, running)
        self.leases[(inst, slot)] = token
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.create_task(self._keep(), name="sync-lease-renewer")
        outcome: RunOutcome | None = None
        try:
            outcome = await self._pages(target, snapshot, token, run_id, stopping, before, cursor)
            return outcome
        finally:
            self.leases.pop((inst, slot), None)
            await self._finish(target, token, outcome, then)

    async def _finish(
        self,
        target: Target,
        token: str,
        outcome: RunOutcome | None,
        then: Callable[[RunOutcome], StatusChange],
    ) -> None:
        """Release the lease and store the final status (None: cancelled, status as it is)."""
        status = None
        if outcome is not None:
            change = outcome.change.then(then(outcome))
            status = self.board.changed(target, await self.board.current(target), change)
        try:
            await self.store.finish(target.installation_id, target.slot, token, status)
        except Exception:
            log.warning("run end not stored", extra={"slot": target.slot})
            return  # the lease expires after lease_ttl_s; the status stays `running`
        if status is not None:
            self.board.stored(target, status)

    async def _keep(self) -> None:
        """Renew every lease in flight each third of its time to live."""
        ttl = self.limits.lease_ttl_s
        while True:
            await asyncio.sleep(ttl / 3)
            held = list(self.leases.items())
            # A Redis blip fails a renewal: the commit check is what protects the cursor.
            await asyncio.gather(
                *(self.store.renew(i, s, token, ttl) for (i, s), token in held),
                return_exceptions=True,
            )

    async def close(self) -> None:
        """Stop renewing (the runs have ended)."""
        if self._renewer is not None:
            self._renewer.cancel()
            await asyncio.gather(self._renewer, return_exceptions=True)

    async def _pages(
        self,
        target: Target,
        snapshot: InstallationSnapshot,
        token: str,
        run_id: str,
        stopping: Callable[[], bool],
        status: StreamStatus,
        cursor: str | None,
    ) -> RunOutcome:
        pages = records = 0
        total, gap_total = status.records_total, status.webhook_gap
        progress = StatusChange()
        more = False
        try:
            for _ in range(self.limits.max_pages):
                if stopping():
                    more = True
                    break
                result = await self._invoke(target, snapshot, cursor, run_id)
                new, gaps, published = await self.delivery.deliver(
                    target, snapshot, result, run_id, status
                )
                pages += 1
                records += new
                total += new
                gap_total += gaps
                cursor = result.next_cursor if target.kind == "stream" else cursor
                entry = CursorEntry(
                    entry_id=new_id("cur"),
                    action="run",
                    run_id=run_id,
                    at=time.time(),
                    cursor=cursor,
                    pages=pages,
                    records=records,
                )
                committed = StatusChange(
                    cursor=cursor,
                    pages_last_run=pages,
                    records_last_run=records,
                    records_total=total,
                    webhook_gap=gap_total,
                )
                more = result.has_more and target.kind == "stream"
                # A page of a longer run: its status shows the moving cursor, stored with the
                # commit (the last page's goes with the run's end instead).
                shown = None
                if more:
                    shown = self.board.changed(target, await self.board.current(target), committed)
                commit = self.store.commit(
                    target.installation_id, target.slot, token, cursor, entry, shown
                )
                if not await self.delivery.commit(published, commit):
                    raise LeaseLost("the run lease was lost before the cursor commit")
                progress = committed
                if shown is not None:
                    self.board.stored(target, shown)
                if not more:
                    break
        except LeaseLost as lost:
            log.warning("run stopped", extra={"slot": target.slot, "reason": str(lost)})
            return RunOutcome(state="lease_lost", change=progress)
        except NeedsReauth as error:
            reauth = StatusChange(
                state="needs_reauth", last_error=str(error), last_error_at=time.time()
            )
            return RunOutcome(state="needs_reauth", change=progress.then(reauth))
        except Exception as error:
            return await self._failed(target, snapshot, run_id, error, progress)
        done = StatusChange(state="ok", last_success_at=time.time(), consecutive_failures=0)
        return RunOutcome(state="ok", more=more, change=progress.then(done))

    async def _invoke(
        self, target: Target, snapshot: InstallationSnapshot, cursor: str | None, run_id: str
    ) -> InvocationResult:
        version = snapshot.active if target.mode == "active" else snapshot.observation
        assert version is not None
        stale: str | None = None
        for _ in range(2):  # a 401 refreshes the OAuth token once and reads the page again
            access = await self.tokens.access_token(snapshot, stale=stale)
            await self.budget.take(target.installation_id)
            self.pages_fetched += 1
            result = await self.invoker.invoke(
                Invocation(
                    invocation_id=new_id("inv"),
                    installation=snapshot,
                    version=version,
                    mode=target.mode,
                    kind=target.kind,
                    script_type="job",
                    entry=target.name,
                    cursor=cursor,
                    source_id=run_id,
                    secrets_override={"access_token": access} if access else None,
                )
            )
            if result.outcome == "ok":
                return result
            if access and stale is None and "401" in (result.error or ""):
                stale = access
                continue
            raise PageFailed(result.error or result.outcome)
        raise PageFailed("the provider refused the refreshed token (401)")

    async def _failed(
        self,
        target: Target,
        snapshot: InstallationSnapshot,
        run_id: str,
        error: Exception,
        progress: StatusChange,
    ) -> RunOutcome:
        status = await self.board.current(target)
        failures = status.consecutive_failures + 1
        message = str(error) or type(error).__name__
        await self._log_error(target, snapshot, run_id, message, error)
        failed = StatusChange(
            state="error" if failures == 1 else "backing_off",
            consecutive_failures=failures,
            error_count=status.error_count + 1,
            last_error=message[:500],
            last_error_at=time.time(),
        )
        return RunOutcome(state="error", failures=failures, change=progress.then(failed))

    async def _log_error(
        self,
        target: Target,
        snapshot: InstallationSnapshot,
        run_id: str,
        message: str,
        error: Exception,
    ) -> None:
        """The run's failure as a platform line on the extension logs topic (best effort)."""
        line = ExtensionLogLine(
            log_id=new_id("log"),
            at=time.time(),
            level="error",
            message=f"{target.kind} {target.name} run failed: {message}",
            kind="platform",
            workspace_id=snapshot.workspace_id,
            installation_id=snapshot.installation_id,
            extension_key=snapshot.extension_key,
            version_id=target.version_id,
            invocation_id=run_id,
            script_type="job",
            script_name=target.name,
            job=target.name,
            attrs={
                "stream": target.name,
                "run_id": run_id,
                "error_type": type(error).__name__,
                "traceback": "".join(traceback.format_exception_only(error)).strip(),
            },
            mode=target.mode,
        )
        try:
            await publish(self.producer(), EXTENSION_LOGS, line)
        except Exception:
            log.warning("run failure not logged to Kafka", extra={"slot": target.slot})
