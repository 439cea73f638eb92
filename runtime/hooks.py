"""Hook entry points: one function per event in the file the manifest's hook names.

A hook file exports `before_save(ctx, record, previous)`, `before_delete(ctx, record,
previous)`, `after_save(...)` and/or `after_delete(...)` for the events it declares (sync or
async). `record` is the entity as it would be (after_save: as committed; None for a
delete), `previous` the stored one (None for a create); `ctx` is a `HookContext`.

A `before_*` hook answers the write: return None (no changes) or a dict of field changes,
or raise `sdk.ValidationError(field, message)` / `ValidationErrors([...])` to refuse it.
Changes count only on an entity type the manifest grants `write` on: otherwise the hook is
denied (a denial line in Logs) and the caller treats it like a crash. `after_*` hooks return
nothing that counts; they ingest records with `ingest.canonical` like any other script.

The answer travels as `response.body` (`HookAnswer`); a refusal is a successful invocation
(outcome `ok`), so only a crash, a timeout or a denial is an error of the hook.
"""

from __future__ import annotations

import inspect
from typing import Any

import msgspec

from contracts.manifest import TRANSACTIONAL_EVENTS, Hook
from runtime.interface import HttpResponse, Invocation
from runtime.loader import LoadedBundle
from sdk.errors import PermissionDenied, ValidationError, ValidationErrors
from sdk.hooks import HookContext

HOOK_EVENTS = ("before_save", "before_delete", "after_save", "after_delete")


class HookError(msgspec.Struct, frozen=True, kw_only=True):
    """One refusal of the hook: the field (None: the whole record) and the message."""

    field: str | None
    message: str


class HookAnswer(msgspec.Struct, frozen=True, kw_only=True):
    """What a hook invocation answers in `response.body`."""

    changes: dict[str, Any] = {}
    errors: list[HookError] = []


def hook_declared(bundle: LoadedBundle, invocation: Invocation) -> Hook | None:
    """The manifest hook this invocation runs, if the version declares it."""
    entity = (invocation.input or {}).get("entity_type")
    for hook in bundle.manifest.hooks:
        if hook.entry == invocation.entry and invocation.event in hook.events:
            if entity is None or hook.entity == entity:
                return hook
    return None


async def run_hook(
    bundle: LoadedBundle, module: Any, scope: Any, invocation: Invocation
) -> HttpResponse:
    """Call the event's function; its changes or refusals become a `HookAnswer`."""
    given = invocation.input or {}
    event = invocation.event or ""
    entity_type = str(given.get("entity_type", ""))
    if hook_declared(bundle, invocation) is None:
        raise LookupError(
            f"the manifest declares no {event} hook of {entity_type!r} in {invocation.entry}"
        )
    function = getattr(module, event, None)
    if not callable(function):
        raise LookupError(f"{invocation.entry} exports no {event}(ctx, record, previous)")
    scope.annotate(entity=entity_type, event=event)
    ctx = HookContext(
        installation_id=invocation.installation.installation_id,
        extension_key=invocation.installation.extension_key,
        settings=scope.settings,
        actor=invocation.actor,
        entity_type=entity_type,
        entity_id=str(given.get("entity_id", "")),
        event=event,
        operation=str(given.get("operation", "")),
        write_id=given.get("write_id"),
        change_id=given.get("change_id"),
    )
    record, previous = given.get("record"), given.get("previous")
    try:
        result = function(ctx, dict(record) if record else record, previous)
        if inspect.isawaitable(result):
            result = await result
    except ValidationErrors as refused:
        return _refusal(scope, invocation, [_error(e) for e in refused.errors])
    except ValidationError as refused:
        return _refusal(scope, invocation, [_error(refused)])
    if event not in TRANSACTIONAL_EVENTS or not result:
        return HttpResponse(status=200, body=msgspec.to_builtins(HookAnswer()))
    if not isinstance(result, dict):
        raise TypeError(
            f"{event} must return None or a dict of changes, not {type(result).__name__}"
        )
    if entity_type not in bundle.manifest.writable_entities():
        reason = "changes need write access in permissions.entities"
        scope.log(
            "warn", f"denied changes to {entity_type!r}: {reason}", {"fields": sorted(result)}
        )
        raise PermissionDenied("write", entity_type, reason)
    changes = msgspec.to_builtins(result, str_keys=True)
    if invocation.mode != "active":
        scope.log("info", f"would change {', '.join(sorted(changes))}", {"changes": changes})
    return HttpResponse(status=200, body=msgspec.to_builtins(HookAnswer(changes=changes)))


def _error(error: ValidationError) -> HookError:
    return HookError(field=error.field, message=str(error.message))


def _refusal(scope: Any, invocation: Invocation, errors: list[HookError]) -> HttpResponse:
    """The writer sees the errors (active); every refusal is also a line in Logs."""
    verb = "refused" if invocation.mode == "active" else "would refuse"
    for error in errors:
        where = f"{error.field}: " if error.field else ""
        scope.log(
            "warn",
            f"{verb} the write: {where}{error.message}",
            {"field": error.field, "refusal": True, "mode": invocation.mode},
        )
    return HttpResponse(status=200, body=msgspec.to_builtins(HookAnswer(errors=errors)))
