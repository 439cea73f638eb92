"""Pages, page actions and UI contributions, run for the console as the signed-in member.

Who may see what is decided here, before any code runs: the installation must belong to
the caller's workspace (404 otherwise: another tenant's pages do not exist for you), be
active (503 when disabled or pending), and the page's manifest `role` (and the action's)
must be met by the caller's role (403). A draft's pages are rendered only with `?session=`
of the draft's dev session *and* for the member who deployed it. Every tree a script
answers goes through `contracts.ui.parse_tree` here: the console only ever receives a
checked tree (an unsafe one is a 502 naming the offending node). Renders and actions run
with the member as the invocation's actor and are logged as `script_type=page_action`,
`route` = the page path, `event` = `render` or the action name.
"""

from __future__ import annotations

import asyncio
from typing import Any, get_args

import msgspec

from contracts.entities import Actor
from contracts.installations import InstallationSnapshot, VersionRef
from contracts.manifest import Page, UISlot
from contracts.ui import (
    ActionFieldError,
    ActionResult,
    Component,
    Contribution,
    Link,
    PageRef,
    PageView,
    UnsafeTree,
    parse_tree,
)
from runtime.interface import InvocationResult, Invoker
from runtime.invocations import new_invocation
from services.base.auth import Principal
from services.base.draft_access import reachable_draft
from services.base.errors import Disabled, Forbidden, NotFound, ScriptFailed, ScriptTimeout
from services.base.snapshots import SnapshotView

RANK = {"member": 0, "admin": 1}


def allowed(principal: Principal, role: str) -> bool:
    """Whether the caller's role meets a manifest `role` (admin ≥ member)."""
    return RANK.get(principal.role, -1) >= RANK.get(role, 1)


class PageService:
    """Lists and renders pages, runs page actions, renders UI contributions."""

    def __init__(self, view: SnapshotView, invoker: Invoker) -> None:
        self.view = view
        self.invoker = invoker

    def list_pages(
        self, caller: Principal, installation_id: str, session: str | None = None
    ) -> list[PageRef]:
        """The pages the caller's role may see (no code runs)."""
        snapshot = self._snapshot(caller, installation_id)
        version, _ = self._version(caller, snapshot, session)
        return [
            _ref(snapshot, page) for page in version.manifest.pages if allowed(caller, page.role)
        ]

    async def render(
        self,
        caller: Principal,
        installation_id: str,
        path: str,
        session: str | None = None,
        query: dict[str, str] | None = None,
    ) -> PageView:
        """Run the page's `render(ctx)` as the caller; its checked tree."""
        snapshot = self._snapshot(caller, installation_id)
        version, mode = self._version(caller, snapshot, session)
        page = _page(version, path)
        if not allowed(caller, page.role):
            raise Forbidden(f"the page {page.segment!r} needs the {page.role} role")
        self._enabled(snapshot)
        result = await self._invoke(
            caller, snapshot, version, mode, session, "page", page, "render", {"query": query or {}}
        )
        tree = _tree(result.response.body if result.response else None)
        return PageView(
            page=_ref(snapshot, page), version_id=version.version_id, mode=mode, tree=tree
        )

    async def act(
        self,
        caller: Principal,
        installation_id: str,
        path: str,
        action: str,
        given: dict[str, Any],
        session: str | None = None,
    ) -> tuple[int, ActionResult]:
        """Run one page action as the caller: (200, result) or (422, its field errors)."""
        snapshot = self._snapshot(caller, installation_id)
        version, mode = self._version(caller, snapshot, session)
        page = _page(version, path)
        declared = next((a for a in page.actions if a.name == action), None)
        if declared is None:
            raise NotFound(f"the page {page.segment!r} has no action {action!r}", field="action")
        if not allowed(caller, page.role) or not allowed(caller, declared.role):
            raise Forbidden(f"the action {action!r} needs the {declared.role} role")
        self._enabled(snapshot)
        result = await self._invoke(
            caller, snapshot, version, mode, session, "page_action", page, action, given
        )
        response = result.response
        body = response.body if response is not None and isinstance(response.body, dict) else {}
        if response is not None and response.status == 422:
            errors = [
                ActionFieldError(
                    field=None if e.get("field") is None else str(e["field"]),
                    message=str(e.get("message", "")),
                )
                for e in body.get("errors", [])
                if isinstance(e, dict)
            ]
            return 422, ActionResult(ok=False, message="Please correct the fields.", errors=errors)
        if response is not None and response.status >= 400:  # refused in its own words
            message = str(body.get("message") or f"the action answered {response.status}")
            return 422, ActionResult(ok=False, message=message)
        tree = _tree(body["tree"]) if body.get("tree") is not None else None
        return 200, ActionResult(ok=True, message=str(body.get("message", "")), tree=tree)

    async def contributions(self, caller: Principal, slot: str) -> list[Contribution]:
        """Every contribution of the caller's active installations to `slot`, rendered.

        One failing contribution is answered with its `error`; the others still render.
        """
        if slot not in get_args(UISlot):
            raise NotFound(f"no console slot {slot!r}", field="slot")
        jobs = []
        for snapshot in self.view.by_installation.values():
            if snapshot.workspace_id != caller.workspace_id or snapshot.state != "active":
                continue
            version = snapshot.active
            if version is None:
                continue
            for index, ui in enumerate(version.manifest.ui):
                if ui.slot == slot and allowed(caller, ui.role):
                    jobs.append(self._contribution(caller, snapshot, version, index))
        return list(await asyncio.gather(*jobs))

    async def _contribution(
        self, caller: Principal, snapshot: InstallationSnapshot, version: VersionRef, index: int
    ) -> Contribution:
        ui = version.manifest.ui[index]
        base = Contribution(
            installation_id=snapshot.installation_id,
            extension_key=snapshot.extension_key,
            slot=ui.slot,
            title=ui.title,
            page=ui.page.strip("/"),
        )
        href = f"/installations/{snapshot.installation_id}/pages/{base.page}"
        if not ui.entry:
            tree: list[Component] = [Link(label=ui.title, href=href)]
            return _with(base, tree=tree)
        invocation = new_invocation(
            snapshot,
            version,
            kind="ui",
            entry=ui.slot,
            script_type="page_action",
            event="render",
            actor=_actor(caller),
            input={"index": index},
        )
        try:
            result = await self.invoker.invoke(invocation)
            _check(result)
            return _with(base, tree=_tree(result.response.body if result.response else None))
        except (ScriptFailed, ScriptTimeout) as failed:
            return _with(base, error=failed.message)

    async def _invoke(
        self,
        caller: Principal,
        snapshot: InstallationSnapshot,
        version: VersionRef,
        mode: Any,
        session: str | None,
        kind: Any,
        page: Page,
        event: str,
        given: dict[str, Any],
    ) -> InvocationResult:
        result = await self.invoker.invoke(
            new_invocation(
                snapshot,
                version,
                kind=kind,
                entry=f"/{page.segment}",
                mode=mode,
                script_type="page_action",
                session_id=session if mode == "draft" else None,
                actor=_actor(caller),
                event=event,
                input=given,
            )
        )
        _check(result)
        return result

    def _snapshot(self, caller: Principal, installation_id: str) -> InstallationSnapshot:
        snapshot = self.view.get(installation_id)
        if snapshot is None or snapshot.workspace_id != caller.workspace_id:
            raise NotFound(f"installation {installation_id!r} not found", field="installation_id")
        if snapshot.state == "uninstalled":
            raise NotFound("the installation was uninstalled", field="installation_id")
        return snapshot

    def _version(
        self, caller: Principal, snapshot: InstallationSnapshot, session: str | None
    ) -> tuple[VersionRef, Any]:
        """The active version; with `session`, the draft, for its developer only."""
        if session is None:
            if snapshot.active is None:
                raise NotFound("the installation has no active version")
            return snapshot.active, "active"
        draft = reachable_draft(snapshot, session, member_id=caller.member_id)
        if draft is None:
            raise NotFound("no draft of yours for this dev session", field="session")
        return draft, "draft"

    @staticmethod
    def _enabled(snapshot: InstallationSnapshot) -> None:
        if snapshot.state != "active":
            raise Disabled(f"the installation is {snapshot.state}; its pages do not run")


def _page(version: VersionRef, path: str) -> Page:
    segment = path.strip("/")
    for page in version.manifest.pages:
        if page.segment == segment:
            return page
    raise NotFound(f"the extension has no page {path!r}", field="path")


def _ref(snapshot: InstallationSnapshot, page: Page) -> PageRef:
    return PageRef(
        installation_id=snapshot.installation_id,
        extension_key=snapshot.extension_key,
        path=page.segment,
        title=page.title,
        nav=page.nav,
    )


def _actor(caller: Principal) -> Actor:
    return Actor(type="member", id=caller.member_id, role=caller.role)


def _check(result: InvocationResult) -> None:
    if result.outcome == "timeout":
        raise ScriptTimeout(result.error or "the script ran out of time")
    if result.outcome != "ok" or result.response is None:
        raise ScriptFailed(result.error or result.outcome)


def _tree(body: Any) -> list[Component]:
    try:
        return parse_tree(body)
    except UnsafeTree as unsafe:
        raise ScriptFailed(
            f"the page answered a tree the console will not show: {unsafe}"
        ) from None


def _with(base: Contribution, **fields: Any) -> Contribution:
    return msgspec.structs.replace(base, **fields)
