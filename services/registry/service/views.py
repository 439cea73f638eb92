"""Installation records as the API shows them: metadata only, never a secret value."""

from __future__ import annotations

from contracts.installations import InstallationSnapshot, VersionRef
from services.base.auth import Principal
from services.base.errors import Conflict, NotFound
from services.registry.schemas import Installation, SecretInfo, VersionSummary
from services.registry.service.cutover import missing_settings
from services.registry.store import RegistryStore
from services.registry.stored import StoredInstallation


def summary(version: VersionRef | None) -> VersionSummary | None:
    """A version without its manifest."""
    if version is None:
        return None
    return VersionSummary(
        version_id=version.version_id,
        label=version.label,
        digest=version.digest,
        deployed_at=version.deployed_at,
        deployed_by=version.deployed_by,
    )


def secret_infos(snapshot: InstallationSnapshot) -> list[SecretInfo]:
    """Names, revisions, who set them and when; the grace end of a rotated predecessor."""
    return [
        SecretInfo(
            name=entry.name,
            revision=entry.revision,
            set_at=entry.set_at,
            set_by=entry.set_by,
            previous_valid_until=(
                snapshot.rotating_secrets[name].valid_until
                if name in snapshot.rotating_secrets
                else None
            ),
        )
        for name, entry in sorted(snapshot.secrets.items())
    ]


def installation_view(record: StoredInstallation, ingress_url: str) -> Installation:
    """The API shape of an installation."""
    snap = record.snapshot
    manifest = snap.active.manifest if snap.active else None
    return Installation(
        id=snap.installation_id,
        extension_key=snap.extension_key,
        kind=snap.kind,
        connection_name=snap.connection_name,
        state=snap.state,
        revision=snap.revision,
        active=summary(snap.active),
        observation=summary(snap.observation),
        draft=summary(snap.draft),
        pending_upgrade=summary(snap.pending_upgrade),
        settings=snap.settings,
        missing_settings=(
            missing_settings(manifest, snap.settings, set(snap.secrets)) if manifest else []
        ),
        secrets=secret_infos(snap),
        webhook_url=f"{ingress_url.rstrip('/')}/hooks/{snap.hook_id}" if snap.hook_id else None,
        oauth_status=snap.oauth.status if snap.oauth else None,
        created_at=record.created_at,
        updated_at=snap.updated_at,
    )


async def load_installation(
    store: RegistryStore, caller: Principal, installation_id: str, live: bool = True
) -> StoredInstallation:
    """The caller's installation; 404 for another workspace's (no existence leak).

    With `live`, an uninstalled installation is a 409: it can no longer be changed.
    """
    record = await store.installation(caller.workspace_id, installation_id)
    if record is None:
        raise NotFound(f"installation {installation_id!r} not found", field="installation_id")
    if live and record.snapshot.state == "uninstalled":
        raise Conflict(f"installation {installation_id!r} was uninstalled", field="installation_id")
    return record
