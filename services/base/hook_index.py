"""Which hooks a write runs: workspace → entity type → event → hooks, from the snapshot view.

Rebuilt per workspace on the first lookup after one of its snapshots changed, so a disable,
an uninstall, a promote or a new draft changes what the next write runs without a registry
call. The order is the one docs/http-api.md promises: manifest `priority`, then extension
key, installation id, declaration order.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

from contracts.ids import new_id
from contracts.installations import InstallationSnapshot, VersionRef
from contracts.logs import ExtensionLogLine
from contracts.manifest import EntityDefinition, Hook
from runtime.interface import Mode
from services.base.draft_access import reachable_draft
from services.base.snapshots import SnapshotView

Role = Literal["active", "observation", "draft"]
_MODES: dict[Role, Mode] = {"active": "active", "observation": "observe", "draft": "draft"}


@dataclass(frozen=True)
class Subscription:
    """One hook of one installation's version, subscribed to one entity type and event."""

    snapshot: InstallationSnapshot
    version: VersionRef
    role: Role
    hook: Hook
    declared_at: int

    def fires_for(self, session_id: str | None) -> bool:
        """Active and observation versions fire on every write; a draft only on its session's."""
        return self.role != "draft" or reachable_draft(self.snapshot, session_id) is not None

    @property
    def mode(self) -> Mode:
        """The runtime mode this version's hooks run in."""
        return _MODES[self.role]

    def platform_line(
        self,
        message: str,
        *,
        entity: str,
        event: str,
        invocation_id: str,
        attrs: dict[str, Any],
        session_id: str | None = None,
    ) -> ExtensionLogLine:
        """An error line of the platform about this hook (the Logs tab's hook filters match)."""
        s = self.snapshot
        return ExtensionLogLine(
            log_id=new_id("log"),
            at=time.time(),
            level="error",
            message=message,
            kind="platform",
            workspace_id=s.workspace_id,
            installation_id=s.installation_id,
            extension_key=s.extension_key,
            version_id=self.version.version_id,
            invocation_id=invocation_id,
            script_type="hook",
            script_name=self.hook.entry,
            entity=entity,
            event=event,
            attrs=attrs,
            mode=self.mode,
            session_id=session_id if self.role == "draft" else None,
        )

    @property
    def order(self) -> tuple[int, str, str, int]:
        """Sort key: priority, extension key, installation id, declaration order."""
        s = self.snapshot
        return (self.hook.priority, s.extension_key, s.installation_id, self.declared_at)


@dataclass
class WorkspaceHooks:
    """One workspace's hooks by (entity type, event), its entity definitions and protections."""

    hooks: dict[tuple[str, str], list[Subscription]] = field(default_factory=dict)
    definitions: dict[str, EntityDefinition] = field(default_factory=dict)
    defined_by: dict[str, str] = field(default_factory=dict)
    write_protected: frozenset[str] = frozenset()


def _versions(snapshot: InstallationSnapshot) -> list[tuple[Role, VersionRef]]:
    """Versions whose hooks run: none while disabled, uninstalled or not yet configured."""
    if snapshot.state != "active" or snapshot.active is None:
        return []
    found: list[tuple[Role, VersionRef]] = [("active", snapshot.active)]
    if snapshot.observation is not None:
        found.append(("observation", snapshot.observation))
    if snapshot.draft is not None and snapshot.draft_session_id:
        found.append(("draft", snapshot.draft))
    return found


def build_workspace(snapshots: list[InstallationSnapshot]) -> WorkspaceHooks:
    """The index of one workspace's current snapshots."""
    built = WorkspaceHooks()
    newest: InstallationSnapshot | None = None
    for snapshot in snapshots:
        if newest is None or snapshot.updated_at > newest.updated_at:
            newest = snapshot  # the registry revises every live one when protection changes
        for role, version in _versions(snapshot):
            manifest = version.manifest
            if role == "active":
                for definition in manifest.entities:
                    built.definitions.setdefault(definition.name, definition)
                    built.defined_by.setdefault(definition.name, snapshot.extension_key)
            for declared_at, hook in enumerate(manifest.hooks):
                for event in hook.events:
                    sub = Subscription(snapshot, version, role, hook, declared_at)
                    built.hooks.setdefault((hook.entity, event), []).append(sub)
    for subs in built.hooks.values():
        subs.sort(key=lambda s: s.order)
    if newest is not None:
        built.write_protected = frozenset(newest.write_protected_entities) - set(built.definitions)
    return built


class HookIndex:
    """The view's hooks per workspace, rebuilt lazily after a snapshot of it changed."""

    def __init__(self, view: SnapshotView) -> None:
        self.view = view
        self.members: dict[str, set[str]] = {}
        self.built: dict[str, WorkspaceHooks] = {}

    async def on_snapshot(
        self, snapshot: InstallationSnapshot, _previous: InstallationSnapshot | None
    ) -> None:
        """A view listener: remember the installation's workspace and drop its index."""
        self.members.setdefault(snapshot.workspace_id, set()).add(snapshot.installation_id)
        self.built.pop(snapshot.workspace_id, None)

    def workspace(self, workspace_id: str) -> WorkspaceHooks:
        """The workspace's index (built now if a snapshot changed since the last lookup)."""
        built = self.built.get(workspace_id)
        if built is None:
            ids = self.members.get(workspace_id, set())
            snapshots = [s for i in sorted(ids) if (s := self.view.get(i)) is not None]
            built = self.built[workspace_id] = build_workspace(snapshots)
        return built

    def hooks(self, workspace_id: str, entity_type: str, event: str) -> list[Subscription]:
        """Every subscribed hook in run order (active, observation and draft versions)."""
        return self.workspace(workspace_id).hooks.get((entity_type, event), [])

    def definitions(self, workspace_id: str) -> dict[str, EntityDefinition]:
        """The `define_entity` types of the workspace's active installations."""
        return self.workspace(workspace_id).definitions
