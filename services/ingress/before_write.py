"""The core's before-write call: run the workspace's `before_*` hooks, answer a `WriteVerdict`.

Guarantees (docs/http-api.md, "The core's before-write call"):
- Active hooks run one after another in the index's order, each on the record with the
  changes of the hooks before it, each bounded by its `timeoutMs` and all of them by the
  overall deadline. Every refusal of every hook is collected: the writer sees them all.
- A hook that crashes, times out, is denied or returns changes its type's `define_entity`
  refuses obeys its `onError`: `fail_closed` refuses the write, `fail_open` skips the hook
  (its changes dropped). Either way there is an error line in Logs.
- Observation versions, and drafts for the write's own dev session, run in the background
  on the record as proposed: their lines and would-be refusals reach Logs, never the verdict.
- The merged record must pass the type's `define_entity` fields; a write-protected type
  (its extension uninstalled) is refused before any hook runs.
A hook still running at its deadline finishes in the background under the runtime's own
time limit (its lines reach Logs then); the write does not wait for it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from contracts.entities import (
    EntityWrite,
    FieldProblem,
    HookError,
    SkippedHook,
    WriteVerdict,
    field_problems,
)
from contracts.ids import new_id
from contracts.logs import ExtensionLogLine
from runtime.hooks import HookAnswer
from runtime.interface import Invocation, InvocationResult, Invoker
from services.base.errors import DependencyUnavailable, ServiceError
from services.base.hook_index import HookIndex, Subscription
from services.base.tasks import Background

LogLine = Callable[[ExtensionLogLine], Awaitable[None]]


class HookFailed(Exception):
    """A hook gave no usable answer: `reason` is a `SkippedHook` reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


SKIP_LINE_EVERY_S = 10.0


class BeforeWrite:
    """Decides one write of one workspace's entity type."""

    def __init__(
        self,
        *,
        index: HookIndex,
        invoker: Invoker,
        log: LogLine,
        background: Background,
        deadline_ms: int,
        shadow_limit: int = 16,
    ) -> None:
        self.index = index
        self.invoker = invoker
        self.log = log
        self.background = background
        self.deadline_s = deadline_ms / 1000
        # Shadow runs (observation and draft hooks) in flight across all writes: past the
        # limit one is skipped, never queued (it must not take workers from live writes).
        self.shadow_limit = shadow_limit
        self.shadows = 0
        self._skipped: dict[str, tuple[int, float]] = {}  # installation → (count, last line)

    async def decide(self, workspace_id: str, entity_type: str, write: EntityWrite) -> WriteVerdict:
        """Run the hooks and merge their answers; never raises for anything a hook did."""
        started = time.monotonic()
        if write.operation == "save" and write.record is None:
            raise ServiceError("a save needs the record as it would be written", field="record")
        event = "before_save" if write.operation == "save" else "before_delete"
        workspace = self.index.workspace(workspace_id)
        if entity_type in workspace.write_protected:
            message = (
                f"{entity_type} is write-protected: the extension that defined it was "
                "uninstalled; install a version with a matching define_entity to write it again"
            )
            error = HookError(
                extension_key="platform",
                installation_id="",
                hook="write_protection",
                field=None,
                message=message,
            )
            return WriteVerdict(write_id=write.write_id, allowed=False, errors=[error])
        record = dict(write.record) if write.record is not None else None
        changes: dict[str, Any] = {}
        errors: list[HookError] = []
        skipped: list[SkippedHook] = []
        ran = 0
        definition = workspace.definitions.get(entity_type)
        for sub in self.index.hooks(workspace_id, entity_type, event):
            if write.actor.installation_id == sub.snapshot.installation_id:
                continue  # an installation's hooks never run on its own writes (no loops)
            if sub.role != "active":
                if sub.fires_for(write.session_id):
                    self._start_shadow(sub, entity_type, event, write)
                continue
            ran += 1
            left = self.deadline_s - (time.monotonic() - started)
            try:
                answer = await self._run(sub, entity_type, event, write, record, left)
                if answer.changes and record is not None:
                    # Checked here, in the service: the worker's own check runs next to the
                    # extension's code, which could have patched it.
                    if entity_type not in sub.version.manifest.writable_entities():
                        raise HookFailed(
                            "invalid_changes", f"no write access to {entity_type!r} to change it"
                        )
                    merged = {**record, **answer.changes}
                    bad = _introduced(definition, record, merged)
                    if bad:
                        raise HookFailed("invalid_changes", _describe(bad))
                    record, changes = merged, {**changes, **answer.changes}
                errors += [_error_of(sub, e.field, e.message) for e in answer.errors]
            except HookFailed as failed:
                await self._line(sub, entity_type, event, write, failed)
                if sub.hook.on_error == "fail_open":
                    skipped.append(_skipped(sub, failed.reason))
                else:
                    message = (
                        f"{sub.hook.hook_name} failed ({failed.message}); the write is refused"
                    )
                    errors.append(_error_of(sub, None, message))
        if record is not None and definition is not None:
            for problem in field_problems(definition, record):
                errors.append(
                    HookError(
                        extension_key=workspace.defined_by.get(entity_type, "platform"),
                        installation_id="",
                        hook="define_entity",
                        field=problem.field,
                        message=f"{problem.field} {problem.message}",
                    )
                )
        return WriteVerdict(
            write_id=write.write_id,
            allowed=not errors,
            record=record if not errors else None,
            changes=changes if not errors else {},
            errors=errors,
            skipped=skipped,
            hooks_run=ran,
        )

    async def _run(
        self,
        sub: Subscription,
        entity_type: str,
        event: str,
        write: EntityWrite,
        record: dict[str, Any] | None,
        left_s: float,
    ) -> HookAnswer:
        """One hook's answer within min(timeoutMs, what is left of the deadline)."""
        limit = min(sub.hook.timeout_ms / 1000, left_s)
        if limit <= 0:
            raise HookFailed("timeout", "the write's deadline had passed before it could run")
        call = asyncio.ensure_future(
            self.invoker.invoke(_invocation(sub, entity_type, event, write, record))
        )
        done, _ = await asyncio.wait({call}, timeout=limit)
        if not done:
            self.background.spawn(_settle(call))  # its lines are published when it ends
            raise HookFailed("timeout", f"no answer within {limit * 1000:.0f} ms")
        try:
            result = call.result()
        except Exception as error:  # the platform (producer, pool), not the hook: 503
            raise DependencyUnavailable("runtime") from error
        return _answer(result)

    def _start_shadow(
        self, sub: Subscription, entity_type: str, event: str, write: EntityWrite
    ) -> None:
        """Start a shadow run unless `shadow_limit` of them are running; a skip is counted
        and reported in Logs at most once per `SKIP_LINE_EVERY_S` per installation."""
        if self.shadows < self.shadow_limit:
            self.shadows += 1
            self.background.spawn(self._shadow(sub, entity_type, event, write))
            return
        installation_id = sub.snapshot.installation_id
        count, last = self._skipped.get(installation_id, (0, 0.0))
        now = time.monotonic()
        if now - last < SKIP_LINE_EVERY_S:
            self._skipped[installation_id] = (count + 1, last)
            return
        self._skipped[installation_id] = (0, now)
        skipped = HookFailed(
            "shadow_skipped",
            f"{count + 1} shadow run(s) skipped: {self.shadow_limit} already running",
        )
        self.background.spawn(self._line(sub, entity_type, event, write, skipped))

    async def _shadow(
        self, sub: Subscription, entity_type: str, event: str, write: EntityWrite
    ) -> None:
        """Run an observation or draft hook for Logs only (the runtime records its lines)."""
        invocation = _invocation(sub, entity_type, event, write, write.record)
        try:
            _answer(await self.invoker.invoke(invocation))
        except HookFailed as failed:
            await self._line(sub, entity_type, event, write, failed)
        finally:
            self.shadows -= 1

    async def _line(
        self,
        sub: Subscription,
        entity_type: str,
        event: str,
        write: EntityWrite,
        failed: HookFailed,
    ) -> None:
        """The platform's own error line about a hook (timeouts, unusable changes)."""
        verdict = "skipped (fail_open)" if sub.hook.on_error == "fail_open" else "write refused"
        if sub.role != "active":
            verdict = "shadow only"
        line = sub.platform_line(
            f"hook {sub.hook.hook_name} {failed.reason}: {failed.message}; {verdict}",
            entity=entity_type,
            event=event,
            invocation_id=write.write_id,
            attrs={"write_id": write.write_id, "reason": failed.reason},
            session_id=write.session_id,
        )
        try:
            await self.log(line)
        except Exception:  # a line that cannot be published must not fail the write
            pass


def _invocation(
    sub: Subscription,
    entity_type: str,
    event: str,
    write: EntityWrite,
    record: dict[str, Any] | None,
) -> Invocation:
    mode = sub.mode
    return Invocation(
        invocation_id=new_id("inv"),
        installation=sub.snapshot,
        version=sub.version,
        mode=mode,
        kind="hook",
        script_type="hook",
        entry=sub.hook.entry,
        source_id=write.write_id,
        session_id=write.session_id if mode == "draft" else None,
        actor=write.actor,
        event=event,
        input={
            "entity_type": entity_type,
            "entity_id": write.entity_id,
            "operation": write.operation,
            "record": record,
            "previous": write.previous,
            "write_id": write.write_id,
        },
    )


def _answer(result: InvocationResult) -> HookAnswer:
    """The hook's answer, or HookFailed naming why there is none."""
    if result.outcome == "timeout":
        raise HookFailed("timeout", result.error or "time limit exceeded")
    if result.outcome == "denied":
        reason = "invalid_changes" if (result.error or "").startswith("write ") else "error"
        raise HookFailed(reason, result.error or "denied")
    if result.outcome != "ok" or result.response is None:
        raise HookFailed("error", result.error or result.outcome)
    try:
        return msgspec.convert(result.response.body, HookAnswer)
    except msgspec.ValidationError as error:
        raise HookFailed("error", f"unusable answer: {error}") from None


async def _settle(call: asyncio.Future[InvocationResult]) -> None:
    await asyncio.gather(call, return_exceptions=True)


def _introduced(
    definition: Any, before: dict[str, Any], after: dict[str, Any]
) -> list[FieldProblem]:
    """Problems of `after` that `before` did not have (what a hook's changes broke)."""
    old = {(p.field, p.message) for p in field_problems(definition, before)}
    return [p for p in field_problems(definition, after) if (p.field, p.message) not in old]


def _describe(problems: list[FieldProblem]) -> str:
    return "changes refused by define_entity: " + "; ".join(
        f"{p.field} {p.message}" for p in problems
    )


def _error_of(sub: Subscription, field_name: str | None, message: str) -> HookError:
    s = sub.snapshot
    return HookError(
        extension_key=s.extension_key,
        installation_id=s.installation_id,
        hook=sub.hook.hook_name,
        field=field_name,
        message=message,
    )


def _skipped(sub: Subscription, reason: str) -> SkippedHook:
    s = sub.snapshot
    return SkippedHook(
        extension_key=s.extension_key,
        installation_id=s.installation_id,
        hook=sub.hook.hook_name,
        reason=reason,  # type: ignore[arg-type]
    )
