"""Version cutover and installation state: the rules every version change follows.

A cutover replaces the snapshot's `active` version in one new revision, so ingress and sync
switch at one instant. A version that grants more than the running one is parked as
`pending_upgrade` until an admin approves the diff: the installation stays on its version.
"""

from __future__ import annotations

from typing import Any

from contracts.installations import InstallationSnapshot, InstallationState, VersionRef
from contracts.manifest import Manifest
from services.registry.service.changes import Changeset
from services.registry.service.permissions import widens
from services.registry.stored import StoredInstallation


def missing_settings(manifest: Manifest, settings: dict[str, Any], secrets: set[str]) -> list[str]:
    """Required settings (plain or secret) that have no value yet.

    A connector's webhook signing secret counts as required when its settings declare it:
    without it no delivery can be verified, so the connector does not go live on Install.
    """
    have = set(settings) | secrets
    required = list(manifest.settings_schema.required)
    webhooks = manifest.webhooks
    declared = manifest.settings_schema.properties.get(webhooks.secret) if webhooks else None
    if webhooks is not None and declared is not None and declared.secret:
        required += [webhooks.secret] if webhooks.secret not in required else []
    return [name for name in required if name not in have]


def settled_state(
    snapshot: InstallationSnapshot, manifest: Manifest | None = None, **overrides: Any
) -> InstallationState:
    """`pending` until required settings are present, then `active`; disabled stays disabled."""
    state = overrides.get("state", snapshot.state)
    if state in ("disabled", "uninstalled"):
        return state
    manifest = manifest or (snapshot.active.manifest if snapshot.active else None)
    if manifest is None:
        return "pending"
    settings = overrides.get("settings", snapshot.settings)
    secrets = set(overrides.get("secrets", snapshot.secrets))
    return "pending" if missing_settings(manifest, settings, secrets) else "active"


def cut_over(
    changes: Changeset, record: StoredInstallation, version: VersionRef, approved: bool
) -> bool:
    """Make `version` active (True), or park it as pending upgrade when it widens (False)."""
    snapshot = record.snapshot
    if snapshot.state == "uninstalled":
        return False
    if snapshot.active is not None and snapshot.active.version_id == version.version_id:
        if snapshot.pending_upgrade is not None:
            changes.revise(record, pending_upgrade=None)
        return True
    current = snapshot.active.manifest if snapshot.active else None
    if not approved and widens(current, version.manifest):
        if snapshot.pending_upgrade != version:
            changes.revise(record, pending_upgrade=version)
        return False
    observation = snapshot.observation
    if observation is not None and observation.version_id == version.version_id:
        observation = None
    changes.revise(
        record,
        active=version,
        observation=observation,
        pending_upgrade=None,
        state=settled_state(snapshot, version.manifest),
    )
    return True
