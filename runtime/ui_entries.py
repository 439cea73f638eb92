"""Pages, page actions and UI contributions inside the runtime: which file, which call, what answer.

Entries: a `page` or `page_action` invocation names the page by its path (`/board`; the
action's name is `event`, its submitted fields `input`); a `ui` invocation names the slot and
carries the contribution's index in the manifest as `input["index"]`. The file is the page's
(or contribution's) manifest `entry`. Answers travel as `response.body`, plain data only:
a render answers its tree (status 200; ingress decodes it with `contracts.ui.parse_tree`
before anyone sees it); an action answers `{"ok", "message", "tree"}` (200), or, when it
raised `ValidationError(s)`, `{"ok": false, "errors": [{"field", "message"}]}` with 422:
a refused submission is an answer, not a failure of the script. The platform checks roles
before invoking; the runtime only runs what it is asked to.
"""

from __future__ import annotations

import inspect
from typing import Any

import msgspec

from contracts.manifest import Page, UIContribution
from runtime.interface import HttpResponse, Invocation
from runtime.loader import LoadedBundle
from runtime.scope import InvocationScope
from sdk.errors import ValidationError, ValidationErrors
from sdk.pages import Member, PageContext

UI_KINDS = ("page", "page_action", "ui")


def UIEntryNotFound(message: str) -> LookupError:
    """The manifest or bundle has no such page, action or contribution (EntryNotFound)."""
    from runtime.entrypoints import EntryNotFound  # entrypoints imports this module

    return EntryNotFound(message)


def page_of(bundle: LoadedBundle, invocation: Invocation) -> Page:
    """The manifest's page named by the invocation's entry (`/board` or `board`)."""
    segment = invocation.entry.strip("/")
    for page in bundle.manifest.pages:
        if page.segment == segment:
            return page
    raise UIEntryNotFound(f"the manifest declares no page {invocation.entry!r}")


def contribution_of(bundle: LoadedBundle, invocation: Invocation) -> UIContribution:
    """The manifest's UI contribution at `input["index"]` (it must target the entry's slot)."""
    index = (invocation.input or {}).get("index")
    contributions = bundle.manifest.ui
    if not isinstance(index, int) or not 0 <= index < len(contributions):
        raise UIEntryNotFound(f"no UI contribution {index!r}")
    contribution = contributions[index]
    if contribution.slot != invocation.entry or not contribution.entry:
        raise UIEntryNotFound(f"ui[{index}] renders nothing for slot {invocation.entry!r}")
    return contribution


def ui_script_path(bundle: LoadedBundle, invocation: Invocation) -> list[str]:
    """Candidate files of a page, action or contribution (the manifest's entry)."""
    if invocation.kind == "ui":
        entry = contribution_of(bundle, invocation).entry
    else:
        entry = page_of(bundle, invocation).entry_file
    return [entry, f"src/{entry}"]


async def run_ui_entry(
    bundle: LoadedBundle, path: str, scope: InvocationScope, invocation: Invocation
) -> HttpResponse:
    """Render the page or contribution, or run the action; the answer as plain data."""
    module = bundle.module(path)
    ctx = _context(bundle, scope, invocation)
    if invocation.kind == "page_action":
        return await _action(module, invocation, ctx)
    render = getattr(module, "render", None)
    if render is None:
        raise UIEntryNotFound(f"{path} exports no render(ctx)")
    tree = await _settle(render(ctx))
    return HttpResponse(status=200, body=_plain(tree))


def _context(bundle: LoadedBundle, scope: InvocationScope, invocation: Invocation) -> PageContext:
    actor = invocation.actor
    member = Member(
        id=actor.id if actor else "",
        role=(actor.role or "member") if actor else "member",
        email=actor.email if actor else None,
    )
    slot: str
    if invocation.kind == "ui":
        contribution = contribution_of(bundle, invocation)
        page, slot = contribution.page.strip("/"), contribution.slot
    else:
        page, slot = page_of(bundle, invocation).segment, ""
    query = (invocation.input or {}).get("query") if invocation.kind != "page_action" else None
    return PageContext(
        installation_id=invocation.installation.installation_id,
        extension_key=invocation.installation.extension_key,
        settings=scope.settings,
        page=page,
        member=member,
        mode=invocation.mode,
        slot=slot,
        query={str(k): str(v) for k, v in (query or {}).items()},
    )


async def _action(module: Any, invocation: Invocation, ctx: PageContext) -> HttpResponse:
    name = invocation.event or ""
    table = getattr(module, "actions", None)
    handler = table.get(name) if isinstance(table, dict) else getattr(module, name, None)
    if handler is None or not callable(handler):
        raise UIEntryNotFound(f"the page {ctx.page!r} exports no action {name!r}")
    try:
        result = await _settle(handler(ctx, dict(invocation.input or {})))
    except ValidationError as error:
        return _refused([error])
    except ValidationErrors as errors:
        return _refused(errors.errors)
    if result is None or isinstance(result, str):
        return HttpResponse(status=200, body={"ok": True, "message": result or ""})
    if isinstance(result, dict) and "type" not in result:
        return HttpResponse(
            status=200,
            body={
                "ok": True,
                "message": str(result.get("message", "")),
                "tree": _plain(result["tree"]) if result.get("tree") is not None else None,
            },
        )
    return HttpResponse(status=200, body={"ok": True, "message": "", "tree": _plain(result)})


def _refused(errors: list[ValidationError]) -> HttpResponse:
    return HttpResponse(
        status=422,
        body={
            "ok": False,
            "errors": [{"field": e.field, "message": str(e.message)} for e in errors],
        },
    )


def _plain(tree: Any) -> Any:
    """SDK components (Structs) or dicts as plain data; anything else is left for the check."""
    return msgspec.to_builtins(tree, enc_hook=repr)


async def _settle(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value
