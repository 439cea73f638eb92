"""Plain factories for runtime tests: deploy a directory as a bundle, build snapshots, invoke."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from contracts.ids import new_id
from contracts.installations import InstallationSnapshot, VersionRef
from contracts.manifest import Manifest
from contracts.secrets import SecretEntry
from runtime.interface import EntryKind, HttpRequest, Invocation, Mode
from sdk.bundle import bundle_key, digest_of, pack, version_id_of
from services.base.secrets_crypto import Keyring, SecretBinding

BUNDLES = Path(__file__).parent / "bundles"


async def deploy_directory(
    redis: Redis, directory: Path, manifest: Manifest | None = None
) -> VersionRef:
    """Pack `directory` (with `manifest` instead of its own, if given) and store its bytes
    where the registry would; return its version."""
    archive, manifest = pack(directory, manifest)
    digest = digest_of(archive)
    await redis.set(bundle_key(digest), archive)
    return VersionRef(
        version_id=version_id_of(digest),
        digest=digest,
        label=manifest.version,
        deployed_at=time.time(),
        deployed_by="mem_test",
        manifest=manifest,
    )


def installation(
    version: VersionRef,
    *,
    keyring: Keyring | None = None,
    secrets: dict[str, str] | None = None,
    settings: dict[str, Any] | None = None,
    write_protected: list[str] | None = None,
    workspace_id: str = "ws_test",
) -> InstallationSnapshot:
    """An active installation of `version`, with `secrets` sealed under `keyring`."""
    installation_id = new_id("ins")
    sealed: dict[str, SecretEntry] = {}
    for name, value in (secrets or {}).items():
        assert keyring is not None, "sealing secrets needs the keyring"
        binding = SecretBinding(
            workspace_id=workspace_id, installation_id=installation_id, name=name, revision=1
        )
        sealed[name] = SecretEntry(
            name=name,
            revision=1,
            set_at=time.time(),
            set_by="mem_test",
            sealed=keyring.seal(value.encode(), binding),
        )
    return InstallationSnapshot(
        installation_id=installation_id,
        workspace_id=workspace_id,
        extension_key=version.manifest.key,
        kind=version.manifest.kind,
        revision=1,
        state="active",
        active=version,
        settings=settings or {},
        secrets=sealed,
        hook_id=new_id("hk", 130),
        write_protected_entities=write_protected or [],
        updated_at=time.time(),
    )


def webhook(
    snapshot: InstallationSnapshot,
    body: bytes,
    *,
    entry: str | None = None,
    mode: Mode = "active",
    version: VersionRef | None = None,
    headers: dict[str, str] | None = None,
) -> Invocation:
    """A webhook delivery to the installation's endpoint."""
    version = version or snapshot.active
    assert version is not None
    endpoint = entry or (version.manifest.webhooks.endpoint if version.manifest.webhooks else "/")
    return Invocation(
        invocation_id=new_id("inv"),
        installation=snapshot,
        version=version,
        mode=mode,
        kind="webhook",
        script_type="route",
        entry=endpoint,
        request=HttpRequest(
            method="POST",
            path=endpoint,
            headers={"content-type": "application/json", **(headers or {})},
            body=body,
        ),
        source_id=new_id("dlv"),
    )


def call(
    snapshot: InstallationSnapshot,
    kind: EntryKind,
    entry: str,
    *,
    cursor: str | None = None,
    mode: Mode = "active",
    settings: dict[str, Any] | None = None,
    secrets: dict[str, str] | None = None,
) -> Invocation:
    """A stream run or a test-connection of the installation's active version."""
    assert snapshot.active is not None
    return Invocation(
        invocation_id=new_id("inv"),
        installation=snapshot,
        version=snapshot.active,
        mode=mode,
        kind=kind,
        script_type="job",
        entry=entry,
        cursor=cursor,
        settings_override=settings,
        secrets_override=secrets,
    )
