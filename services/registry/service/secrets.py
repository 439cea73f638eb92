"""The secret store: write-only values sealed per installation, name and revision.

Plaintext exists only in the request that sets a secret and in the internal test-connection
call; it is sealed before anything is written, and no response, log line, Kafka message or
Redis value carries it. A rotated secret's previous revision stays valid for a grace window.
"""

from __future__ import annotations

from services.base.auth import Principal
from services.base.errors import NotFound, ServiceError
from services.registry.outbox import OutboxRelay
from services.registry.schemas import SecretInfo
from services.registry.service.changes import Changeset, audit_secret_writes, commit
from services.registry.service.connections import CredentialCheck
from services.registry.service.cutover import settled_state
from services.registry.service.vault import SecretVault, declared_secrets
from services.registry.service.views import load_installation, secret_infos
from services.registry.store import RegistryStore
from services.registry.stored import StoredInstallation


class SecretService:
    """Set, rotate, revoke and list an installation's secrets (admin; members list)."""

    def __init__(
        self, store: RegistryStore, relay: OutboxRelay, vault: SecretVault, check: CredentialCheck
    ) -> None:
        self.store = store
        self.relay = relay
        self.vault = vault
        self.check = check

    async def list_secrets(self, caller: Principal, installation_id: str) -> list[SecretInfo]:
        """Metadata only: names, revisions, who set them and when."""
        record = await load_installation(self.store, caller, installation_id, live=False)
        return secret_infos(record.snapshot)

    async def put_secret(
        self, caller: Principal, installation_id: str, name: str, value: str
    ) -> SecretInfo:
        """Set or rotate; a connector that tests connections must accept the credential first."""
        caller.require_admin()
        if not value:
            raise ServiceError("a secret value must not be empty", field="value")

        record = await self._declaring(caller, installation_id, name)
        # The remote credential test runs here, once, never inside the retried decide.
        tested = await self.check.before(record, record.snapshot.settings, {name: value})

        async def decide(changes: Changeset) -> SecretInfo:
            record = await self._declaring(caller, installation_id, name)
            self.check.still_holds(tested, record, {name: value})
            snap = record.snapshot
            record, sealed = self.vault.seal_into(record, {name: value}, caller.member_id)
            state = settled_state(snap, **sealed)
            updated = changes.revise(record, **sealed, state=state)
            audit_secret_writes(changes, record, updated, {name: value})
            return next(i for i in secret_infos(updated.snapshot) if i.name == name)

        return await commit(self.store, self.relay, caller.workspace_id, caller.member_id, decide)

    async def _declaring(
        self, caller: Principal, installation_id: str, name: str
    ) -> StoredInstallation:
        """The installation, if its manifest declares the secret `name`."""
        record = await load_installation(self.store, caller, installation_id)
        active = record.snapshot.active
        manifest = active.manifest if active else None
        if manifest is None or name not in declared_secrets(manifest):
            raise ServiceError(
                f"unknown secret name {name!r}: the manifest declares "
                f"{sorted(declared_secrets(manifest)) if manifest else []}",
                field="name",
            )
        return record

    async def delete_secret(self, caller: Principal, installation_id: str, name: str) -> None:
        """Revoke a secret (and its rotating predecessor); its revision is never reused."""
        caller.require_admin()

        async def decide(changes: Changeset) -> None:
            record = await load_installation(self.store, caller, installation_id)
            snap = record.snapshot
            if name not in snap.secrets:
                raise NotFound(f"secret {name!r} is not set", field="name")
            secrets = {n: e for n, e in snap.secrets.items() if n != name}
            rotating = {n: e for n, e in snap.rotating_secrets.items() if n != name}
            changes.revise(
                record,
                secrets=secrets,
                rotating_secrets=rotating,
                state=settled_state(snap, secrets=secrets),
            )
            changes.audit("SecretRevoked", installation_id, name=name)

        await commit(self.store, self.relay, caller.workspace_id, caller.member_id, decide)
