"""Entity writes between Backfill's core and the platform: the before-write call and the
committed-change topic that extension hooks run on.

The core owns entity storage. Before it commits a write it calls ingress once
(`POST /internal/workspaces/{workspace_id}/entities/{entity_type}/before-write`, body
`EntityWrite`, internal token) and obeys the `WriteVerdict`: commit `record` (the proposed
record with every hook's changes merged) when `allowed`, otherwise show `errors` to the
writer. After it commits, it publishes an `EntityChange` on `entities.changes.v1`; sync runs
the `after_*` hooks from there. docs/http-api.md and docs/extensions.md describe both sides.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

import msgspec

from contracts.base import Message
from contracts.manifest import EntityDefinition

WriteOperation = Literal["save", "delete"]
ActorType = Literal["member", "api_token", "extension", "system"]


class Actor(msgspec.Struct, frozen=True, kw_only=True):
    """Who made the write, as the core authenticated them; handed to hooks read-only."""

    type: ActorType
    id: str
    email: str | None = None
    role: Literal["member", "admin"] | None = None
    # The installation that made the write when `type` is `extension` (a hook never runs on
    # its own installation's writes, so an after_save hook cannot loop on itself).
    installation_id: str | None = None


class EntityWrite(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The core's question before it commits: may this write happen, and with what changes?

    `record` is the entity as it would be written (None for a delete); `previous` the stored
    one (None for a create). `write_id` identifies the write for logs and for retries of
    this call. `session_id` names a `backfill dev` session whose draft hooks should see the
    write too (shadow only).
    """

    write_id: str
    operation: WriteOperation
    entity_id: str
    record: dict[str, Any] | None = None
    previous: dict[str, Any] | None = None
    actor: Actor
    session_id: str | None = None


class HookError(msgspec.Struct, frozen=True, kw_only=True):
    """One validation error for the writer: which extension refused, on which field, why."""

    extension_key: str
    installation_id: str
    hook: str
    field: str | None
    message: str


class SkippedHook(msgspec.Struct, frozen=True, kw_only=True):
    """A fail-open hook that crashed or timed out: the write went on without it."""

    extension_key: str
    installation_id: str
    hook: str
    reason: Literal["error", "timeout", "invalid_changes"]


class WriteVerdict(msgspec.Struct, frozen=True, kw_only=True):
    """The platform's answer: allowed with the merged record, or refused with every error.

    Hooks run one after another in a defined order (manifest `priority`, then extension key,
    installation id, declaration order); each sees the record with the changes of the ones
    before it. `changes` is the union of the fields hooks set (later ones win).
    """

    write_id: str
    allowed: bool
    record: dict[str, Any] | None = None
    changes: dict[str, Any] = {}
    errors: list[HookError] = []
    skipped: list[SkippedHook] = []
    hooks_run: int = 0


class EntityChange(Message, frozen=True, kw_only=True):
    """A write the core committed; sync runs every subscribed `after_*` hook on it.

    Keyed by `workspace_id:entity_id` so the changes of one entity stay in order. `change_id`
    is unique per committed write: hooks' own records are deduplicated on it, and a change
    seen twice (a redelivery after a crash) runs its hooks again, at least once in all.
    """

    change_id: str
    workspace_id: str
    entity_type: str
    entity_id: str
    operation: WriteOperation
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    actor: Actor
    committed_at: float
    # Added compatibly: the `backfill dev` session the write came from (as on EntityWrite);
    # that session's draft after-hooks run on it too, in shadow.
    session_id: str | None = None


def field_problems(
    definition: EntityDefinition | None, record: dict[str, Any]
) -> list[FieldProblem]:
    """Where `record` breaks its type's `define_entity` fields (types, required); [] if none.

    Fields the definition does not name are left alone (the core's own fields); `None` counts
    as absent. Every write that reaches the platform is checked with this: a hook's changes
    merged into the record, and each `ingest.canonical` payload.
    """
    if definition is None:
        return []
    problems: list[FieldProblem] = []
    for spec in definition.fields:
        value = record.get(spec.name)
        if value is None:
            if spec.required:
                problems.append(FieldProblem(field=spec.name, message="is required"))
            continue
        if not _FIELD_CHECKS[spec.type](value):
            problems.append(FieldProblem(field=spec.name, message=f"must be a {spec.type}"))
    return problems


class FieldProblem(msgspec.Struct, frozen=True, kw_only=True):
    """One field of a record that its entity definition refuses."""

    field: str
    message: str


def _is_datetime(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


_FIELD_CHECKS: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "datetime": _is_datetime,
    "json": lambda v: True,
}
