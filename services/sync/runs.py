"""One run of one stream or job: pages until `has_more` is false, cursor committed per page.

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
from dataclasses import dataclass, field, replace
from typing import Any

from contracts.ids import new_id
from contracts.installations import InstallationSnapshot
from contracts.logs import ExtensionLogLine
from contracts.records import CanonicalRecord
from contracts.topics import CANONICAL_RECORDS, EXTENSION_LOGS
from runtime.interface import Emission, Invocation, InvocationResult, Invoker
from runtime.pages import stamp_of
from services.base.dedupe import Deduplicator
from services.base.kafka import publish
from services.base.tasks import Background
from services.sync.budget import RequestBudget
from services.sync.oauth import NeedsReauth, TokenSource
from services.sync.schemas import CursorEntry
from services.sync.status import StatusBoard
from services.sync.store import SyncStore
from services.sync.targets import Target

log = logging.getLogger(__name__)


class PageFailed(RuntimeError):
    """A page could not be read or delivered; the cursor stays at the last good page."""


class LeaseLost(RuntimeError):
    """Another run holds the stream now (or an admin moved the cursor): stop, commit nothing."""


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended, and its final status changes (the scheduler adds the next due time
    and stores them in one status update)."""

    state: str  # ok | error | busy | lease_lost | needs_reauth
    more: bool = False  # stopped at the page limit with pages left: run again soon
    failures: int = 0
    changes: dict[str, Any] = field(default_factory=dict)


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
        dedupe: Deduplicator,
        board: StatusBoard,
        budget: RequestBudget,
        tokens: TokenSource,
        producer: Any,
        limits: RunLimits,
    ) -> None:
        self.invoker = invoker
        self.store = store
        self.dedupe = dedupe
        self.board = board
        self.budget = budget
        self.tokens = tokens
        self.producer = producer
        self.limits = limits
        self.settling = Background()  # timed-out publishes resolving their claims
        self.pages_fetched = 0  # every page call made by this process (bench and tests read it)

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
    ) -> RunOutcome:
        """Run `target` once if its lease is free; `busy` when another run holds it.

        `stopping()` is checked before every page: a run asked to stop (its partition is
        being revoked) ends at a page boundary, so the next owner never fetches a page this
        replica is still fetching.
        """
        inst, slot = target.installation_id, target.slot
        token = await self.store.acquire(inst, slot, self.limits.lease_ttl_s)
        if token is None:
            return RunOutcome(state="busy")
        renewer = asyncio.create_task(self._keep(target, token))
        run_id = new_id("run")
        try:
            return await self._pages(target, snapshot, token, run_id, stopping)
        finally:
            renewer.cancel()
            await asyncio.gather(renewer, return_exceptions=True)
            try:
                await self.store.release(inst, slot, token)
            except Exception:
                pass  # it expires after lease_ttl_s

    async def _keep(self, target: Target, token: str) -> None:
        while True:
            await asyncio.sleep(self.limits.lease_ttl_s / 3)
            try:
                await self.store.renew(
                    target.installation_id, target.slot, token, self.limits.lease_ttl_s
                )
            except Exception:
                pass  # a Redis blip: the commit check is what protects the cursor

    async def _pages(
        self,
        target: Target,
        snapshot: InstallationSnapshot,
        token: str,
        run_id: str,
        stopping: Callable[[], bool],
    ) -> RunOutcome:
        status = await self.board.current(target)
        started = time.time()
        await self.board.update(
            target,
            state="running",
            run_id=run_id,
            last_run_at=started,
            mode=target.mode,
            kind=target.kind,
        )
        cursor = await self.store.cursor(target.installation_id, target.slot)
        pages = records = 0
        total, gap_total = status.records_total, status.webhook_gap
        progress: dict[str, Any] = {}
        more = False
        try:
            for _ in range(self.limits.max_pages):
                if stopping():
                    more = True
                    break
                if progress:  # a page of a longer run: the status shows the moving cursor
                    await self.board.update(target, **progress)
                result = await self._invoke(target, snapshot, cursor, run_id)
                new, gaps = await self._deliver(target, snapshot, result, run_id, status)
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
                if not await self.store.commit(
                    target.installation_id, target.slot, token, cursor, entry
                ):
                    raise LeaseLost("the run lease was lost before the cursor commit")
                progress = {
                    "cursor": cursor,
                    "pages_last_run": pages,
                    "records_last_run": records,
                    "records_total": total,
                    "webhook_gap": gap_total,
                }
                more = result.has_more and target.kind == "stream"
                if not more:
                    break
        except LeaseLost as lost:
            log.warning("run stopped", extra={"slot": target.slot, "reason": str(lost)})
            return RunOutcome(state="lease_lost", changes=progress)
        except NeedsReauth as error:
            changes = {"state": "needs_reauth", "last_error": str(error)}
            return RunOutcome(
                state="needs_reauth", changes={**progress, **changes, "last_error_at": time.time()}
            )
        except Exception as error:
            return await self._failed(target, snapshot, run_id, error, progress)
        done = {"state": "ok", "last_success_at": time.time(), "consecutive_failures": 0}
        return RunOutcome(state="ok", more=more, changes={**progress, **done})

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

    async def _deliver(
        self,
        target: Target,
        snapshot: InstallationSnapshot,
        result: InvocationResult,
        run_id: str,
        status: Any,
    ) -> tuple[int, int]:
        """Publish the page's new records (acks=all); (records published, webhook-gap count)."""
        if target.mode != "active":
            return result.observed, 0  # the runtime published them to the observed topic
        emissions = result.emissions
        if not emissions:
            return 0, 0
        inst = target.installation_id
        by_key = {self.dedupe.store.dedupe_key(inst, e.idempotency_key): e for e in emissions}
        claims = await self.dedupe.claim(list(by_key), token=run_id)
        fresh = [by_key[key] for key in claims.mine]
        producer = self.producer()
        sent_at_ms = int(time.time() * 1000) - 1000  # margin for producer-side timestamps
        acks: list[asyncio.Future[Any]] = []
        try:
            for emission in fresh:
                record = self._record(target, snapshot, emission, run_id)
                acks.append(await CANONICAL_RECORDS.send(producer, record))
            await asyncio.gather(*acks)
        except Exception as error:
            sent, unsent = claims.mine[: len(acks)], claims.mine[len(acks) :]
            if unsent:  # never handed to the producer: free for the next run at once
                await self.dedupe.release(replace(claims, mine=unsent))
            if sent:
                # Not acknowledged is not "not written": settle marks the keys done or
                # uncertain (looked up on the topic by the next claim), never just free.
                self.settling.spawn(
                    self.dedupe.settle(replace(claims, mine=sent), acks, sent_at_ms)
                )
            raise PageFailed(
                f"records not acknowledged by Kafka: {type(error).__name__}"
            ) from error
        await self.dedupe.confirm(claims)
        return len(fresh), self._gaps(snapshot, target, fresh, status)

    def _gaps(
        self, snapshot: InstallationSnapshot, target: Target, fresh: list[Emission], status: Any
    ) -> int:
        """Webhook gap: records new to the shared dedupe store although older than the window.

        Only for a connector that also takes webhooks, and only after the stream's first
        successful sweep (the initial backfill finds every old record new, by design). A
        record whose key the webhook path had delivered is a duplicate, never `fresh`.
        """
        manifest = snapshot.active.manifest if snapshot.active else None
        if manifest is None or manifest.webhooks is None or status.last_success_at is None:
            return 0
        horizon = time.time() - self.limits.gap_window_s
        stamps = (stamp_of(e.payload) for e in fresh)
        return sum(1 for s in stamps if isinstance(s, int | float) and s < horizon)

    @staticmethod
    def _record(
        target: Target, snapshot: InstallationSnapshot, emission: Emission, run_id: str
    ) -> CanonicalRecord:
        return CanonicalRecord(
            idempotency_key=emission.idempotency_key,
            workspace_id=snapshot.workspace_id,
            installation_id=snapshot.installation_id,
            extension_key=snapshot.extension_key,
            version_id=target.version_id,
            canonical_type=emission.canonical_type,
            stream=emission.stream,
            payload=emission.payload,
            source="stream",
            source_id=run_id,
            emitted_at=time.time(),
        )

    async def _failed(
        self,
        target: Target,
        snapshot: InstallationSnapshot,
        run_id: str,
        error: Exception,
        progress: dict[str, Any],
    ) -> RunOutcome:
        status = await self.board.current(target)
        failures = status.consecutive_failures + 1
        message = str(error) or type(error).__name__
        await self._log_error(target, snapshot, run_id, message, error)
        changes = {
            **progress,
            "state": "error" if failures == 1 else "backing_off",
            "consecutive_failures": failures,
            "error_count": status.error_count + 1,
            "last_error": message[:500],
            "last_error_at": time.time(),
        }
        return RunOutcome(state="error", failures=failures, changes=changes)

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
