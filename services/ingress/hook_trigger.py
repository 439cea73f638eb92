"""`backfill trigger hook`: run one hook of a dev session's draft on a record the developer gave.

Only the session the draft was deployed for may run it (`draft_session_id`, compared in
constant time) and only within the caller's workspace; the draft runs in `draft` mode, so
what it ingests is intercepted (would-writes) and its lines carry the session id. Nothing
reaches the core: the answer is what the hook *would* tell a writer.
"""

from __future__ import annotations

from typing import Any

import msgspec

from contracts.entities import Actor
from contracts.ids import new_id
from contracts.manifest import HookEvent
from runtime.hooks import HookAnswer, HookError
from runtime.interface import Invocation, Invoker
from services.base.draft_access import reachable_draft
from services.base.errors import InvalidAnswer, NotFound, field_in
from services.base.snapshots import SnapshotView


class HookTrigger(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Run the draft's `event` hook of `entity` on `record` (and `previous`)."""

    session_id: str
    entity: str
    event: HookEvent
    record: dict[str, Any] | None = None
    previous: dict[str, Any] | None = None
    entity_id: str = "rec_trigger"


class TriggeredHook(msgspec.Struct, frozen=True, kw_only=True):
    """The draft hook's answer; its log lines are in Logs under `invocation_id`."""

    invocation_id: str
    version_id: str
    hook: str
    outcome: str
    allowed: bool
    changes: dict[str, Any] = {}
    errors: list[HookError] = []
    error: str | None = None
    duration_ms: float = 0.0


class HookTriggers:
    """Runs draft hooks for their dev session."""

    def __init__(self, view: SnapshotView, invoker: Invoker) -> None:
        self.view = view
        self.invoker = invoker

    async def trigger(
        self, workspace_id: str, member_id: str, installation_id: str, given: HookTrigger
    ) -> TriggeredHook:
        """The draft hook's verdict; 404 for another workspace, session or an undeclared hook."""
        snapshot = self.view.get(installation_id)
        draft = (
            reachable_draft(snapshot, given.session_id)
            if snapshot is not None and snapshot.workspace_id == workspace_id
            else None
        )
        if snapshot is None or draft is None:
            raise NotFound("no draft of this dev session on this installation", field="session_id")
        hook = next(
            (
                h
                for h in draft.manifest.hooks
                if h.entity == given.entity and given.event in h.events
            ),
            None,
        )
        if hook is None:
            raise NotFound(
                f"the draft has no {given.event} hook of {given.entity!r}", field="event"
            )
        invocation_id = new_id("inv")
        operation = "delete" if given.event.endswith("_delete") else "save"
        result = await self.invoker.invoke(
            Invocation(
                invocation_id=invocation_id,
                installation=snapshot,
                version=draft,
                mode="draft",
                kind="hook",
                script_type="hook",
                entry=hook.entry,
                source_id=invocation_id,
                session_id=given.session_id,
                actor=Actor(type="member", id=member_id),
                event=given.event,
                input={
                    "entity_type": given.entity,
                    "entity_id": given.entity_id,
                    "operation": operation,
                    "record": given.record,
                    "previous": given.previous,
                    "write_id": invocation_id,
                },
            )
        )
        answer = HookAnswer()
        if result.outcome == "ok" and result.response is not None:
            try:
                answer = msgspec.convert(result.response.body, HookAnswer)
            except msgspec.ValidationError as error:
                raise InvalidAnswer(
                    f"the draft hook answered what the platform cannot read: {error}",
                    field=field_in(str(error)),
                ) from None
        return TriggeredHook(
            invocation_id=invocation_id,
            version_id=draft.version_id,
            hook=hook.hook_name,
            outcome=result.outcome,
            allowed=result.outcome == "ok" and not answer.errors,
            changes=answer.changes,
            errors=answer.errors,
            error=result.error,
            duration_ms=result.duration_ms,
        )
