"""Installations: install, configure, disable / enable, uninstall. Each change is one revision.

Uninstall deletes settings and secrets and publishes a final `uninstalled` snapshot; the
entity types the extension defined stay (with their data) and become write-protected for the
workspace until an installation whose manifest defines them again.
"""

from __future__ import annotations

import time
from typing import Any

from contracts.ids import new_id
from contracts.installations import InstallationSnapshot, OAuthConnection
from services.base.auth import Principal
from services.base.errors import Conflict, NotFound
from services.registry.errors import InvalidSettings
from services.registry.outbox import OutboxRelay
from services.registry.records import InstallationRecord
from services.registry.schemas import Installation, InstallationCreate
from services.registry.service.changes import Changeset
from services.registry.service.connections import CredentialCheck, new_hook_id
from services.registry.service.cutover import settled_state
from services.registry.service.validation import validate_settings
from services.registry.service.vault import SecretVault, credential_names
from services.registry.service.versions import VersionService
from services.registry.service.views import installation_view, load_installation
from services.registry.store import RegistryStore


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

    def view(self, record: InstallationRecord) -> Installation:
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
        workspace_id, key = caller.workspace_id, body.extension_key

        async def decide() -> tuple[Any, Installation]:
            version = await self.versions.current(workspace_id, key)
            if version is None:
                if await self.versions.history(workspace_id, key):
                    raise Conflict(
                        f"{key} has no active version; deploy one", field="extension_key"
                    )
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
            checked = validate_settings(manifest.settings_schema, {}, body.settings, set())
            if checked.errors:
                raise InvalidSettings(checked.errors)
            now = time.time()
            protected = await self.store.protected_entities(workspace_id)
            still_protected = sorted(set(protected) - {d.name for d in manifest.entities})
            snapshot = InstallationSnapshot(
                installation_id=new_id("inst"),
                workspace_id=workspace_id,
                extension_key=key,
                kind=manifest.kind,
                connection_name=body.connection_name,
                revision=0,
                state="pending",
                active=version,
                settings=checked.settings,
                hook_id=new_hook_id() if manifest.webhooks is not None else None,
                oauth=OAuthConnection() if manifest.oauth is not None else None,
                write_protected_entities=still_protected,
                updated_at=now,
            )
            record = InstallationRecord(
                snapshot=snapshot, created_at=now, created_by=caller.member_id
            )
            record, sealed = self.vault.seal_into(record, checked.secrets, caller.member_id)
            tested = set(checked.secrets) & credential_names(manifest)
            if tested:
                new_values = {n: checked.secrets[n] for n in tested}
                await self.check.verify(record, sealed, checked.settings, new_values)
            changes = Changeset(workspace_id, caller.member_id)
            state = settled_state(snapshot, **sealed, state="pending")
            created = changes.revise(record, **sealed, state=state)
            changes.audit(
                "ExtensionInstalled",
                snapshot.installation_id,
                extension_key=key,
                connection_name=body.connection_name,
                version_id=version.version_id,
            )
            if still_protected != protected:
                self._protect(changes, records, still_protected)
            return changes.build, self.view(created)

        result = await self.store.guarded(workspace_id, decide)
        self.relay.notify()
        return result

    def _protect(
        self, changes: Changeset, records: list[InstallationRecord], entities: list[str]
    ) -> None:
        """Set the workspace's write-protected entity types and tell every live installation."""
        changes.write(
            lambda p: self.store.set_protected_entities(p, changes.workspace_id, entities)
        )
        for record in records:
            if record.snapshot.state != "uninstalled":
                changes.revise(record, write_protected_entities=entities)

    async def update_settings(
        self, caller: Principal, installation_id: str, values: dict[str, Any]
    ) -> Installation:
        """Validate and apply at once (a new revision); secret fields go to the secret store."""
        caller.require_admin()

        async def decide() -> tuple[Any, Installation]:
            record = await load_installation(self.store, caller, installation_id)
            snap = record.snapshot
            assert snap.active is not None
            manifest = snap.active.manifest
            checked = validate_settings(
                manifest.settings_schema, snap.settings, values, set(snap.secrets)
            )
            if checked.errors:
                raise InvalidSettings(checked.errors)
            record, sealed = self.vault.seal_into(record, checked.secrets, caller.member_id)
            tested = set(checked.secrets) & credential_names(manifest)
            if tested:
                new_values = {n: checked.secrets[n] for n in tested}
                await self.check.verify(record, sealed, checked.settings, new_values)
            changes = Changeset(caller.workspace_id, caller.member_id)
            state = settled_state(snap, settings=checked.settings, **sealed)
            updated = changes.revise(record, settings=checked.settings, state=state, **sealed)
            changes.audit(
                "SettingsChanged",
                installation_id,
                fields=sorted(values),
                secrets=sorted(checked.secrets),
            )
            return changes.build, self.view(updated)

        result = await self.store.guarded(caller.workspace_id, decide)
        self.relay.notify()
        return result

    async def set_enabled(
        self, caller: Principal, installation_id: str, enabled: bool
    ) -> Installation:
        """Disable stops hooks, jobs, routes, webhooks and polls; enable resumes, config intact."""
        caller.require_admin()

        async def decide() -> tuple[Any, Installation]:
            record = await load_installation(self.store, caller, installation_id)
            snap = record.snapshot
            if enabled and snap.state != "disabled":
                raise Conflict("installation is not disabled", field="state")
            if not enabled and snap.state == "disabled":
                raise Conflict("installation is already disabled", field="state")
            changes = Changeset(caller.workspace_id, caller.member_id)
            state = settled_state(snap, state="pending") if enabled else "disabled"
            updated = changes.revise(record, state=state)
            changes.audit("ExtensionEnabled" if enabled else "ExtensionDisabled", installation_id)
            return changes.build, self.view(updated)

        result = await self.store.guarded(caller.workspace_id, decide)
        self.relay.notify()
        return result

    async def uninstall(self, caller: Principal, installation_id: str) -> Installation:
        """Delete settings and secrets; publish the final `uninstalled` snapshot."""
        caller.require_admin()
        workspace_id = caller.workspace_id

        async def decide() -> tuple[Any, Installation]:
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
            changes = Changeset(workspace_id, caller.member_id)
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
                self._protect(changes, others, now_protected)
            changes.audit(
                "ExtensionUninstalled",
                installation_id,
                extension_key=snap.extension_key,
                write_protected_entities=sorted(mine - defined_elsewhere),
            )
            return changes.build, self.view(final)

        result = await self.store.guarded(workspace_id, decide)
        self.relay.notify()
        return result
