"""Write protection of entity types whose defining extension was uninstalled.

Uninstalling the last installation that defines an entity type keeps its data and makes the
type write-protected for the workspace; an installation or a version cutover whose manifest
defines the type again lifts it. Every live installation's snapshot carries the workspace's
list, so ingress refuses writes to a protected type without asking the registry.
"""

from __future__ import annotations

from contracts.manifest import Manifest
from services.registry.service.changes import Changeset
from services.registry.store import RegistryStore
from services.registry.stored import StoredInstallation


def protect(
    store: RegistryStore,
    changes: Changeset,
    records: list[StoredInstallation],
    entities: list[str],
) -> None:
    """Set the workspace's write-protected entity types and tell every live installation."""
    changes.write(lambda p: store.set_protected_entities(p, changes.workspace_id, entities))
    for record in records:
        if record.snapshot.state != "uninstalled":
            changes.revise(record, write_protected_entities=entities)


async def lift_for(store: RegistryStore, changes: Changeset, manifest: Manifest) -> None:
    """Lift the protection of every type `manifest` defines (a version now active defines it)."""
    protected = await store.protected_entities(changes.workspace_id)
    defined = {d.name for d in manifest.entities}
    if not defined & set(protected):
        return
    still = sorted(set(protected) - defined)
    protect(store, changes, await store.installations(changes.workspace_id), still)
