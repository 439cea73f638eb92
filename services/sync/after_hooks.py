"""`after_save` / `after_delete` hooks, run on the core's committed writes (`entities.changes.v1`).

Guarantees:
- At least once: the consumer commits a batch only after every hook of every change in it
  ran (or exhausted its attempts); a crash redelivers the batch and its hooks run again.
- Exactly once for what they ingest: a hook's record is published under the key
  `<change_id>/<hook>/<its own key>` through the one publish-once path
  (`services.base.dedupe.once`), so the run after a crash finds it done and publishes
  nothing twice.
- A failing hook is retried `attempts` times with exponential backoff, then given up with
  an error line in Logs (`script_type=hook`, `entity`, `event`): it never holds the topic.
  A refusal (`denied`: the hook used what its manifest does not grant; `not_found`: no such
  entry) is final: the same code would be refused again, so it is given up at once.
  A dependency outage (Redis, Kafka, the snapshot view not caught up) is not the hook's
  failure: it raises `DependencyUnavailable` and the consumer holds the batch.
- Changes of one entity run in commit order (one partition key); different entities run
  concurrently. A hook never runs on a write its own installation made.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import msgspec

from contracts.entities import EntityChange
from contracts.ids import new_id
from contracts.logs import ExtensionLogLine
from runtime.interface import Invocation, InvocationResult, Invoker
from services.base.dedupe.once import Origin, PublishOnce
from services.base.errors import DependencyUnavailable
from services.base.hook_index import HookIndex, Subscription

LogLine = Callable[[ExtensionLogLine], Awaitable[None]]
FINAL = frozenset({"denied", "not_found"})  # outcomes a retry of the same code cannot change


class AfterHooks:
    """Runs the subscribed after_* hooks of each change of a batch."""

    def __init__(
        self,
        *,
        index: HookIndex,
        ready: Callable[[], bool],
        invoker: Invoker,
        once: PublishOnce,
        log: LogLine,
        attempts: int,
        backoff_s: float,
    ) -> None:
        self.index = index
        self.ready = ready
        self.invoker = invoker
        self.once = once
        self.log = log
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.runs = 0  # hook invocations started (the bench and tests read it)

    async def handle(self, changes: list[EntityChange]) -> None:
        """Run every change's hooks; returns once all of them ran or gave up."""
        if not self.ready():
            raise DependencyUnavailable("snapshots")  # an empty view would skip hooks silently
        by_entity: dict[str, list[EntityChange]] = {}
        for change in changes:
            by_entity.setdefault(f"{change.workspace_id}:{change.entity_id}", []).append(change)
        await asyncio.gather(*(self._in_order(group) for group in by_entity.values()))

    async def _in_order(self, changes: list[EntityChange]) -> None:
        for change in changes:
            event = "after_save" if change.operation == "save" else "after_delete"
            for sub in self.index.hooks(change.workspace_id, change.entity_type, event):
                if change.actor.installation_id == sub.snapshot.installation_id:
                    continue  # never on its own installation's writes: no loops
                if not sub.fires_for(change.session_id):
                    continue
                await self._run(sub, change, event)

    async def _run(self, sub: Subscription, change: EntityChange, event: str) -> None:
        """One hook on one change: retried with backoff, its records published once."""
        error = ""
        for attempt in range(1, self.attempts + 1):
            self.runs += 1
            try:
                result = await self.invoker.invoke(_invocation(sub, change, event, attempt))
            except Exception as failed:  # the platform failed (Kafka, the pool): hold the batch
                raise DependencyUnavailable("runtime") from failed
            if result.outcome == "ok":
                await self._publish(sub, change, result)
                return
            error = result.error or result.outcome
            if result.outcome in FINAL:
                await self._gave_up(sub, change, event, f"{result.outcome}, not retried: {error}")
                return
            if attempt < self.attempts:
                await asyncio.sleep(min(self.backoff_s * 2 ** (attempt - 1), 30.0))
        await self._gave_up(sub, change, event, f"after {self.attempts} attempts: {error}")

    async def _publish(
        self, sub: Subscription, change: EntityChange, result: InvocationResult
    ) -> None:
        """The hook's records, published once (the path ingress and sync pages take)."""
        if not result.emissions:
            return
        snapshot = sub.snapshot
        origin = Origin(
            workspace_id=snapshot.workspace_id,
            installation_id=snapshot.installation_id,
            extension_key=snapshot.extension_key,
            version_id=sub.version.version_id,
            source="hook",
            source_id=change.change_id,
        )
        emissions = [
            msgspec.structs.replace(
                e,
                idempotency_key=f"{change.change_id}/{sub.hook.hook_name}/{e.idempotency_key}",
                stream=None,
            )
            for e in result.emissions
        ]
        token = f"{change.change_id}:{sub.hook.hook_name}"
        published = await self.once.publish(origin, emissions, token)  # raises: batch held
        await self.once.confirm(published)

    async def _gave_up(
        self, sub: Subscription, change: EntityChange, event: str, error: str
    ) -> None:
        line = sub.platform_line(
            f"{event} hook {sub.hook.hook_name} gave up: {error}",
            entity=change.entity_type,
            event=event,
            invocation_id=change.change_id,
            attrs={"change_id": change.change_id, "entity_id": change.entity_id},
        )
        try:
            await self.log(line)
        except Exception as failed:
            raise DependencyUnavailable("kafka") from failed


def _invocation(sub: Subscription, change: EntityChange, event: str, attempt: int) -> Invocation:
    return Invocation(
        invocation_id=new_id("inv"),
        installation=sub.snapshot,
        version=sub.version,
        mode=sub.mode,
        kind="hook",
        script_type="hook",
        entry=sub.hook.entry,
        source_id=change.change_id,
        actor=change.actor,
        event=event,
        input={
            "entity_type": change.entity_type,
            "entity_id": change.entity_id,
            "operation": change.operation,
            "record": change.after,
            "previous": change.before,
            "change_id": change.change_id,
            "attempt": attempt,
        },
    )
