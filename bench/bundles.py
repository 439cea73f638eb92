"""Deploying a bundle the way the registry does, for benches: shared by every bench arm.

A bench stores the packed bundle in Valkey under its digest and publishes an installation
snapshot that names the version, without starting the registry.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from contracts.ids import new_id
from contracts.installations import InstallationSnapshot, VersionRef
from sdk.bundle import bundle_key, digest_of, pack, unpack, version_id_of
from services.registry.service.route_table import build_route_table


async def store_bundle(redis: Redis, directory: Path, *, with_routes: bool = False) -> VersionRef:
    """Pack `directory`, store the bundle under its digest and return the version naming it.

    `with_routes` builds the version's API route table from `src/api/`, as a deploy does.
    """
    archive, manifest = pack(directory)
    digest = digest_of(archive)
    await redis.set(bundle_key(digest), archive)
    return VersionRef(
        version_id=version_id_of(digest),
        digest=digest,
        label=manifest.version,
        deployed_at=time.time(),
        deployed_by="mem_bench",
        manifest=manifest,
        routes=build_route_table(unpack(archive), manifest) if with_routes else [],
    )


def active_snapshot(version: VersionRef, workspace_id: str, **fields: Any) -> InstallationSnapshot:
    """A first-revision snapshot of an installation running `version`; `fields` override."""
    values: dict[str, Any] = {
        "installation_id": new_id("ins"),
        "workspace_id": workspace_id,
        "extension_key": version.manifest.key,
        "kind": version.manifest.kind,
        "revision": 1,
        "state": "active",
        "active": version,
        "updated_at": time.time(),
    }
    return InstallationSnapshot(**(values | fields))
