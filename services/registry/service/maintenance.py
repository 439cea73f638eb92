"""Operator tasks: republish every snapshot at start, re-wrap every sealed secret."""

from __future__ import annotations

import logging
from functools import partial

from services.registry.outbox import OutboxRelay
from services.registry.service.changes import Changeset, commit, republish
from services.registry.service.vault import SecretVault
from services.registry.store import RegistryStore

log = logging.getLogger(__name__)


class Maintenance:
    """Whole-registry passes; each workspace is one transaction through its outbox."""

    def __init__(self, store: RegistryStore, relay: OutboxRelay) -> None:
        self.store = store
        self.relay = relay

    async def republish_all(self) -> int:
        """Queue every current snapshot (uninstalled ones too) so a broker that lost data heals."""
        count = 0
        for workspace_id in await self.store.workspace_ids():
            snapshots = [r.snapshot for r in await self.store.installations(workspace_id)]
            if snapshots:
                await self.relay.register(workspace_id)
                await self.store.transaction(
                    partial(republish, workspace_id=workspace_id, snapshots=snapshots)
                )
                count += len(snapshots)
        self.relay.notify()
        log.info("snapshots republished", extra={"count": count})
        return count

    async def rewrap_all(self, vault: SecretVault) -> int:
        """Re-wrap every sealed value with the newest key (a new revision), so old keys retire."""
        count = 0
        for workspace_id in await self.store.workspace_ids():

            async def decide(changes: Changeset, w: str = workspace_id) -> int:
                for record in await self.store.installations(w):
                    if vault.needs_rewrap(record.snapshot):
                        changes.revise(record, **vault.rewrap(record.snapshot))
                if changes.records:
                    changes.audit(
                        "SecretsRewrapped",
                        w,
                        kek_version=vault.keyring.primary_version,
                        installations=sorted(changes.records),
                    )
                return len(changes.records)

            count += await commit(self.store, self.relay, workspace_id, "operator", decide)
        return count
