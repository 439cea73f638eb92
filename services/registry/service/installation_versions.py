"""Version state of one installation: permissions, upgrade diff, upgrade, rollback, promote.

Each switch is one atomic cutover published as one new snapshot revision. A target that
grants more than the running version needs `approve_permissions`; an upgrade without it is
parked as `pending_upgrade` and the installation stays on its version.
"""

from __future__ import annotations

import msgspec

from contracts.installations import VersionRef
from services.base.auth import Principal
from services.base.errors import Conflict, NotFound, ServiceError
from services.registry.errors import ApprovalRequired
from services.registry.outbox import OutboxRelay
from services.registry.schemas import (
    Installation,
    InstallationVersions,
    PermissionSet,
    UpgradeDiff,
    VersionChange,
)
from services.registry.service.changes import Changeset, commit
from services.registry.service.cutover import cut_over
from services.registry.service.permissions import diff, permissions_of
from services.registry.service.protection import lift_for
from services.registry.service.versions import VersionService
from services.registry.service.views import installation_view, load_installation, summary
from services.registry.store import RegistryStore


class InstallationVersionService:
    """What an installation runs and how it moves between versions."""

    def __init__(
        self, store: RegistryStore, relay: OutboxRelay, versions: VersionService, ingress_url: str
    ) -> None:
        self.store = store
        self.relay = relay
        self.versions = versions
        self.ingress_url = ingress_url

    async def permissions(self, caller: Principal, installation_id: str) -> PermissionSet:
        """Read-only: exactly what the active manifest grants."""
        record = await load_installation(self.store, caller, installation_id, live=False)
        active = record.snapshot.active
        return permissions_of(active.manifest) if active else PermissionSet()

    async def version_state(self, caller: Principal, installation_id: str) -> InstallationVersions:
        """Active, observation, draft, pending upgrade, and every version of the key."""
        record = await load_installation(self.store, caller, installation_id, live=False)
        snap = record.snapshot
        # `state` here is this installation's (a rollback makes an older version its active
        # one), not the key's deployment state that /v1/extensions/{key}/versions reports.
        mine = {"active": snap.active, "observation": snap.observation, "draft": snap.draft}
        history = [
            msgspec.structs.replace(
                v,
                state=[
                    tag  # type: ignore[misc]
                    for tag, ref in mine.items()
                    if ref is not None and ref.version_id == v.version_id
                ],
            )
            for v in await self.versions.list_versions(caller, snap.extension_key)
        ]
        return InstallationVersions(
            active=summary(snap.active),
            observation=summary(snap.observation),
            draft=summary(snap.draft),
            pending_upgrade=summary(snap.pending_upgrade),
            history=history,
        )

    async def _target(self, caller: Principal, key: str, version_id: str | None) -> VersionRef:
        if version_id is None:
            version = await self.versions.current(caller.workspace_id, key)
            if version is None:
                raise NotFound(f"{key} has no current version", field="to")
            return version
        version = await self.versions.find(caller.workspace_id, key, version_id)
        if version is None:
            raise NotFound(f"version {version_id!r} of {key} was never deployed", field="to")
        return version

    async def upgrade_diff(self, caller: Principal, installation_id: str, to: str) -> UpgradeDiff:
        """Entities, hosts and secrets the target version adds and removes."""
        record = await load_installation(self.store, caller, installation_id, live=False)
        snap = record.snapshot
        target = await self._target(caller, snap.extension_key, to)
        active = snap.active
        return diff(
            active.manifest if active else None,
            target.manifest,
            active.version_id if active else None,
            target.version_id,
        )

    async def upgrade(
        self, caller: Principal, installation_id: str, body: VersionChange
    ) -> Installation:
        """Move to `to` (default: the key's current version); widening waits for approval."""
        return await self._switch(caller, installation_id, body, "upgrade")

    async def rollback(
        self, caller: Principal, installation_id: str, body: VersionChange
    ) -> Installation:
        """Make any previously deployed version active again."""
        caller.require_admin()  # before looking at the input: a member learns nothing from it
        if body.to is None:
            raise ServiceError("name the version to roll back to", field="to")
        return await self._switch(caller, installation_id, body, "rollback")

    async def promote(
        self, caller: Principal, installation_id: str, body: VersionChange
    ) -> Installation:
        """Make this installation's observation version active."""
        return await self._switch(caller, installation_id, body, "promote")

    async def _switch(
        self, caller: Principal, installation_id: str, body: VersionChange, how: str
    ) -> Installation:
        caller.require_admin()

        async def decide(changes: Changeset) -> Installation:
            record = await load_installation(self.store, caller, installation_id)
            snap = record.snapshot
            if how == "promote":
                if snap.observation is None:
                    raise Conflict(
                        "this installation has no observation version", field="observation"
                    )
                target = snap.observation
            else:
                target = await self._target(caller, snap.extension_key, body.to)
            switched = cut_over(changes, record, target, approved=body.approve_permissions)
            if switched:
                await lift_for(self.store, changes, target.manifest)
            if not switched and how != "upgrade":
                raise ApprovalRequired(
                    f"{target.version_id} grants more than the running version; review "
                    "upgrade-diff and repeat with approve_permissions=true",
                    field="approve_permissions",
                )
            action = {
                "upgrade": "VersionUpgraded",
                "rollback": "VersionRolledBack",
                "promote": "VersionPromoted",
            }[how]
            changes.audit(
                action if switched else "UpgradeAwaitingApproval",
                installation_id,
                from_version=snap.active.version_id if snap.active else None,
                to_version=target.version_id,
            )
            updated = changes.records.get(installation_id, record)
            return installation_view(updated, self.ingress_url)

        return await commit(self.store, self.relay, caller.workspace_id, caller.member_id, decide)
