"""Connections: webhook URLs and test-connection orchestration.

The registry never runs connector code: credentials are checked by the sync service and are
saved only when the connector accepts them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from contracts.ids import new_id
from contracts.topics import AUDIT_EVENTS
from services.base.auth import Principal
from services.base.errors import Conflict, NotFound
from services.registry import outbox
from services.registry.errors import ConnectionTestFailed, InvalidSettings
from services.registry.outbox import OutboxRelay
from services.registry.schemas import ConnectionTest, WebhookEndpoint
from services.registry.service.changes import Changeset, commit
from services.registry.service.validation import validate_settings
from services.registry.service.vault import SecretVault, credential_names
from services.registry.service.views import load_installation
from services.registry.service.workspaces import audit
from services.registry.store import RegistryStore
from services.registry.stored import StoredInstallation
from services.registry.sync_client import SyncClient

HOOK_ID_BITS = 130  # unguessable per-installation webhook URL (≥ 128 bits)


def new_hook_id() -> str:
    """A fresh webhook id: the URL alone resolves the tenant, so it must be unguessable."""
    return new_id("hk", HOOK_ID_BITS)


@dataclass(frozen=True)
class CheckedState:
    """The installation state a passed connection test ran on (its revision and version)."""

    revision: int
    version_id: str | None


def _state_of(record: StoredInstallation) -> CheckedState:
    snap = record.snapshot
    return CheckedState(snap.revision, snap.active.version_id if snap.active else None)


class CredentialCheck:
    """Runs a connector's testConnection (via sync) on credentials before they are saved.

    The remote call happens before the transaction (`before`), never inside its retried
    `decide`; inside, `still_holds` refuses to save credentials whose test ran on another
    revision or version of the installation than the one now being written.
    """

    def __init__(self, sync: SyncClient, vault: SecretVault) -> None:
        self.sync = sync
        self.vault = vault

    async def before(
        self, record: StoredInstallation, settings: dict[str, Any], secrets: dict[str, str]
    ) -> CheckedState | None:
        """Test the proposed credentials now; None when no test applies to them.

        Raises ConnectionTestFailed (naming the first credential) when the connector refuses.
        """
        tested = self._tested(record, secrets)
        if not tested:
            return None
        proposed, sealed = self.vault.seal_into(record, secrets, "connection-test")
        await self._verify(proposed, sealed, settings, {n: secrets[n] for n in sorted(tested)})
        return _state_of(record)

    def still_holds(
        self, checked: CheckedState | None, record: StoredInstallation, secrets: dict[str, str]
    ) -> None:
        """Inside the transaction: Conflict if a test applies but ran on another state."""
        tested = self._tested(record, secrets)
        if tested and checked != _state_of(record):
            raise Conflict(
                "the installation changed while its credentials were being checked; retry",
                field=sorted(tested)[0],
            )

    @staticmethod
    def _tested(record: StoredInstallation, secrets: dict[str, str]) -> set[str]:
        version = record.snapshot.active
        if version is None or not _tests_connection(version.manifest):
            return set()
        return set(secrets) & credential_names(version.manifest)

    async def _verify(
        self,
        record: StoredInstallation,
        changes: dict[str, Any],
        settings: dict[str, Any],
        new_values: dict[str, str],
    ) -> None:
        """Raise ConnectionTestFailed unless the connector accepts the proposed credentials."""
        snap = record.snapshot
        version = snap.active
        if version is None or not _tests_connection(version.manifest):
            return
        proposed = msgspec.structs.replace(snap, settings=settings, **changes)
        plaintext = {**self.vault.reveal(snap), **new_values}
        verdict = await self.sync.test_connection(proposed, version, settings, plaintext)
        if not verdict.ok:
            raise ConnectionTestFailed(
                f"the connection test failed, nothing was saved: {verdict.message}",
                field=next(iter(new_values), None),
            )


def _tests_connection(manifest: Any) -> bool:
    return bool(manifest.connection is not None and manifest.connection.test_connection)


class ConnectionService:
    """Webhook URL and test-connection of installations."""

    def __init__(
        self,
        store: RegistryStore,
        relay: OutboxRelay,
        vault: SecretVault,
        sync: SyncClient,
        ingress_url: str,
    ) -> None:
        self.store = store
        self.relay = relay
        self.vault = vault
        self.sync = sync
        self.ingress_url = ingress_url.rstrip("/")

    async def webhook(self, caller: Principal, installation_id: str) -> WebhookEndpoint:
        """The installation's webhook URL; 404 when its manifest declares no webhook."""
        record = await load_installation(self.store, caller, installation_id)
        hook_id = record.snapshot.hook_id
        if not hook_id:
            raise NotFound("this installation receives no webhooks", field="webhooks")
        return WebhookEndpoint(hook_id=hook_id, url=f"{self.ingress_url}/hooks/{hook_id}")

    async def rotate_webhook(self, caller: Principal, installation_id: str) -> WebhookEndpoint:
        """A new URL; the old one stops resolving with the new snapshot revision."""
        caller.require_admin()

        async def decide(changes: Changeset) -> WebhookEndpoint:
            record = await load_installation(self.store, caller, installation_id)
            if not record.snapshot.hook_id:
                raise NotFound("this installation receives no webhooks", field="webhooks")
            hook_id = new_hook_id()
            changes.revise(record, hook_id=hook_id)
            changes.audit("WebhookUrlRotated", installation_id)
            return WebhookEndpoint(hook_id=hook_id, url=f"{self.ingress_url}/hooks/{hook_id}")

        return await commit(self.store, self.relay, caller.workspace_id, caller.member_id, decide)

    async def test_connection(
        self, caller: Principal, installation_id: str, proposed: dict[str, Any] | None = None
    ) -> ConnectionTest:
        """Run the connector's testConnection; audited; nothing is ever saved.

        With `proposed` (a settings form not saved yet: plain and secret fields), the test
        runs on those values over the stored ones. An OAuth connection's access token is
        passed as the secret `access_token`, as sync passes it to streams.
        """
        caller.require_admin()
        record = await load_installation(self.store, caller, installation_id)
        snap = record.snapshot
        if snap.active is None or not _tests_connection(snap.active.manifest):
            raise Conflict(
                f"{snap.extension_key} declares no connection test",
                field="connection.testConnection",
            )
        settings, submitted = snap.settings, {}
        if proposed:
            checked = validate_settings(
                snap.active.manifest.settings_schema, snap.settings, proposed, set(snap.secrets)
            )
            if checked.errors:
                raise InvalidSettings(checked.errors)
            settings, submitted = checked.settings, checked.secrets
        plaintext = {**self.vault.reveal(snap), **self.vault.oauth_access(snap), **submitted}
        verdict = await self.sync.test_connection(snap, snap.active, settings, plaintext)
        event = audit(
            caller.workspace_id,
            caller.member_id,
            "ConnectionTested",
            installation_id,
            ok=verdict.ok,
        )
        await self.store.transaction(
            lambda pipe: outbox.append(pipe, caller.workspace_id, AUDIT_EVENTS, event)
        )
        self.relay.notify()
        return verdict
