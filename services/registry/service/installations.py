"""Installations: install, configure, disable / enable, uninstall. Each change is one revision.

Uninstall deletes settings and secrets and publishes a final `uninstalled` snapshot; the
entity types the extension defined stay (with their data) and become write-protected for the
workspace until an installation whose manifest defines them again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from contracts.ids import new_id
from contracts.installations import InstallationSnapshot, OAuthConnection
from services.base.auth import Principal
from services.base.errors import Conflict, NotFound
from services.registry.errors import InvalidSettings
from services.registry.outbox import OutboxRelay
from services.registry.schemas import Installation, InstallationCreate
from services.registry.service.changes import Changeset, audit_secret_writes, commit
from services.registry.service.connections import CredentialCheck, new_hook_id
from services.registry.service.cutover import settled_state
from services.registry.service.protection import protect
from services.registry.service.validation import ValidatedSettings, validate_settings
from services.registry.service.vault import SecretVault
from services.registry.service.versions import VersionService
from services.registry.service.views import installation_view, load_installation
from services.registry.store import RegistryStore
from services.registry.stored import StoredInstallation


@dataclass(frozen=True)
class _InstallPlan:
    """What an install read and validated, before anything is sealed or written."""

    record: StoredInstallation
    values: ValidatedSettings
    version_id: str
    records: list[StoredInstallation]
    protected: list[str]
    still_protected: list[str]


class InstallationService:
    """Installations and their settings in the caller's workspace."""

    def __init__(
        self,
        store: RegistryStore,
        relay: OutboxRelay,
        versions: VersionService,
        vault: SecretVault,
        check: CredentialCheck,
        ingress_url: str,
    ) -> None:
        self.store = store
        self.relay = relay
        self.versions = versions
        self.vault = vault
        self.check = check
        self.ingress_url = ingress_url

    def view(self, record: StoredInstallation) -> Installation:
        return installation_view(record, self.ingress_url)

    async def list_installations(self, caller: Principal) -> list[Installation]:
        """Every installation of the workspace that is not uninstalled."""
        records = await self.store.installations(caller.workspace_id)
        return [self.view(r) for r in records if r.snapshot.state != "uninstalled"]

    async def get(self, caller: Principal, installation_id: str) -> Installation:
        """One installation (also after uninstall, with state `uninstalled`)."""
        return self.view(await load_installation(self.store, caller, installation_id, live=False))

    async def install(self, caller: Principal, body: InstallationCreate) -> Installation:
        """Install at the key's current version: active at once unless settings are missing."""
        caller.require_admin()
        # Ids fixed once: the credential test and every attempt describe the same installation.
        installation_id, hook_id = new_id("inst"), new_hook_id()
        plan = await self._plan_install(caller, body, installation_id, hook_id)
        # The remote credential test runs here, once, never inside the retried decide.
        tested = await self.check.before(plan.record, plan.values.settings, plan.values.secrets)

        async def decide(changes: Changeset) -> Installation:
            plan = await self._plan_install(caller, body, installation_id, hook_id)
            self.check.still_holds(tested, plan.record, plan.values.secrets)
            record, sealed = self.vault.seal_into(
                plan.record, plan.values.secrets, caller.member_id
            )
            state = settled_state(record.snapshot, **sealed, state="pending")
            created = changes.revise(record, **sealed, state=state)
            changes.audit(
                "ExtensionInstalled",
                installation_id,
                extension_key=body.extension_key,
                connection_name=body.connection_name,
                version_id=plan.version_id,
            )
            audit_secret_writes(changes, record, created, plan.values.secrets)
            if plan.still_protected != plan.protected:
                protect(self.store, changes, plan.records, plan.still_protected)
            return self.view(created)

        return await commit(self.store, self.relay, caller.workspace_id, caller.member_id, decide)

    async def _plan_install(
        self, caller: Principal, body: InstallationCreate, installation_id: str, hook_id: str
    ) -> _InstallPlan:
        """Read and validate what an install would write; raise the refusal if any."""
        workspace_id, key = caller.workspace_id, body.extension_key
        version = await self.versions.current(workspace_id, key)
        if version is None:
            if await self.versions.history(workspace_id, key):
                raise Conflict(f"{key} has no active version; deploy one", field="extension_key")
            raise NotFound(f"unknown extension {key!r}", field="extension_key")
        records = await self.store.installations(workspace_id)
        for other in records:
            o = other.snapshot
            if o.extension_key == key and o.connection_name == body.connection_name:
                if o.state == "disabled":
                    raise Conflict(
                        f"{key} ({o.connection_name}) is installed but disabled: enable "
                        f"installation {o.installation_id} instead",
                        field="extension_key",
                    )
                if o.state != "uninstalled":
                    raise Conflict(
                        f"{key} already has a connection named {o.connection_name!r}",
                        field="connection_name",
                    )
        manifest = version.manifest
        values = validate_settings(manifest.settings_schema, {}, body.settings, set())
        if values.errors:
            raise InvalidSettings(values.errors)
        now = time.time()
        protected = await self.store.protected_entities(workspace_id)
        still_protected = sorted(set(protected) - {d.name for d in manifest.entities})
        snapshot = InstallationSnapshot(
            installation_id=installation_id,
            workspace_id=workspace_id,
            extension_key=key,
            kind=manifest.kind,
            connection_name=body.connection_name,
            revision=0,
            state="pending",
            active=version,
            settings=values.settings,
            hook_id=hook_id if manifest.webhooks is not None else None,
            oauth=OAuthConnection() if manifest.oauth is not None else None,
            write_protected_entities=still_protected,
            updated_at=now,
        )
        record = StoredInstallation(snapshot=snapshot, created_at=now, created_by=caller.member_id)
        return _InstallPlan(
            record=record,
            values=values,
            version_id=version.version_id,
            records=records,
            protected=protected,
            still_protected=still_protected,
        )

    async def update_settings(
        self, caller: Principal, installation_id: str, values: dict[str, Any]
    ) -> Installation:
        """Validate and apply at once (a new revision); secret fields go to the secret store."""
        caller.require_admin()
        record, checked = await self._plan_settings(caller, installation_id, values)
        # The remote credential test runs here, once, never inside the retried decide.
        tested = await self.check.before(record, checked.settings, checked.secrets)

        async def decide(changes: Changeset) -> Installation:
            record, checked = await self._plan_settings(caller, installation_id, values)
            self.check.still_holds(tested, record, checked.secrets)
            snap = record.snapshot
            record, sealed = self.vault.seal_into(record, checked.secrets, caller.member_id)
            state = settled_state(snap, settings=checked.settings, **sealed)
            updated = changes.revise(record, settings=checked.settings, state=state, **sealed)
            changes.audit(
                "SettingsChanged",
                installation_id,
                fields=sorted(values),
                secrets=sorted(checked.secrets),
            )
            audit_secret_writes(changes, record, updated, checked.secrets)
            return self.view(updated)

        return await commit(self.store, self.relay, caller.workspace_id, caller.member_id, decide)

    async def _plan_settings(
        self, caller: Principal, installation_id: str, values: dict[str, Any]
    ) -> tuple[StoredInstallation, ValidatedSettings]:
        """The installation and `values` validated against it; InvalidSettings if they fail."""
        record = await load_installation(self.store, caller, installation_id)
        snap = record.snapshot
        assert snap.active is not None
        checked = validate_settings(
            snap.active.manifest.settings_schema, snap.settings, values, set(snap.secrets)
        )
        if checked.errors:
            raise InvalidSettings(checked.errors)
        return record, checked

    async def set_enabled(
        self, caller: Principal, installation_id: str, enabled: bool
    ) -> Installation:
        """Disable stops hooks, jobs, routes, webhooks and polls; enable resumes, config intact."""
        caller.require_admin()

        async def decide(changes: Changeset) -> Installation:
            record = await load_installation(self.store, caller, installation_id)
            snap = record.snapshot
            if enabled and snap.state != "disabled":
                raise Conflict("installation is not disabled", field="state")
            if not enabled and snap.state == "disabled":
                raise Conflict("installation is already disabled", field="state")
            state = settled_state(snap, state="pending") if enabled else "disabled"
            updated = changes.revise(record, state=state)
            changes.audit("ExtensionEnabled" if enabled else "ExtensionDisabled", installation_id)
            return self.view(updated)

        return await commit(self.store, self.relay, caller.workspace_id, caller.member_id, decide)

    async def uninstall(self, caller: Principal, installation_id: str) -> Installation:
        """Delete settings and secrets; publish the final `uninstalled` snapshot."""
        caller.require_admin()
        workspace_id = caller.workspace_id

        async def decide(changes: Changeset) -> Installation:
            record = await load_installation(self.store, caller, installation_id)
            snap = record.snapshot
            records = await self.store.installations(workspace_id)
            others = [
                r
                for r in records
                if r.snapshot.installation_id != installation_id
                and r.snapshot.state != "uninstalled"
            ]
            defined_elsewhere = {
                d.name
                for r in others
                if r.snapshot.active
                for d in r.snapshot.active.manifest.entities
            }
            mine = {d.name for d in snap.active.manifest.entities} if snap.active else set()
            protected = await self.store.protected_entities(workspace_id)
            now_protected = sorted(set(protected) | (mine - defined_elsewhere))
            final = changes.revise(
                record,
                state="uninstalled",
                settings={},
                secrets={},
                rotating_secrets={},
                oauth=None,
                observation=None,
                draft=None,
                draft_member_id=None,
                pending_upgrade=None,
                write_protected_entities=now_protected,
            )
            if now_protected != protected:
                protect(self.store, changes, others, now_protected)
            changes.audit(
                "ExtensionUninstalled",
                installation_id,
                extension_key=snap.extension_key,
                write_protected_entities=sorted(mine - defined_elsewhere),
            )
            return self.view(final)

        return await commit(self.store, self.relay, workspace_id, caller.member_id, decide)
