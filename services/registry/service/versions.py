"""Deployed versions: immutable, content-addressed; first-party for all, private per workspace."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any, Literal

import msgspec

from contracts.installations import VersionRef
from contracts.manifest import Manifest, ManifestError
from contracts.routes import RouteFileError, RouteSpec
from sdk.bundle import (
    BundleError,
    bundle_key,
    digest_of,
    manifest_of,
    pack,
    unpack,
    version_id_of,
)
from services.base.auth import Principal
from services.base.errors import Conflict, NotFound, ServiceError
from services.base.hosts import HostCheck
from services.registry.outbox import OutboxRelay
from services.registry.schemas import CatalogEntry, Version, VersionDeployed
from services.registry.service.changes import Changeset, commit
from services.registry.service.code_check import CodeCheck
from services.registry.service.cutover import cut_over
from services.registry.service.permissions import permissions_of
from services.registry.service.protection import lift_for
from services.registry.service.route_table import build_route_table
from services.registry.store import RegistryStore
from services.registry.stored import ExtensionState

log = logging.getLogger(__name__)
FIRST_PARTY_DEPLOYER = "backfill"
Mode = Literal["active", "observe", "draft"]


class VersionService:
    """Deploys, version history, promotion and the catalog."""

    def __init__(
        self,
        store: RegistryStore,
        relay: OutboxRelay,
        check: CodeCheck | None = None,
        hosts: HostCheck | None = None,
    ) -> None:
        self.store = store
        self.relay = relay
        self.check = check  # None only for first-party registration at start (trusted code)
        self.hosts = hosts or HostCheck()

    async def history(self, workspace_id: str, key: str) -> list[tuple[VersionRef, bool]]:
        """Every version of `key` this workspace can use, oldest first, with `first_party`."""
        first = [(v, True) for v in await self.store.first_party_versions(key)]
        private = [(v, False) for v in await self.store.private_versions(workspace_id, key)]
        seen: set[str] = set()
        merged = []
        for version, first_party in sorted(first + private, key=lambda p: p[0].deployed_at):
            if version.version_id not in seen:
                seen.add(version.version_id)
                merged.append((version, first_party))
        return merged

    async def find(self, workspace_id: str, key: str, version_id: str) -> VersionRef | None:
        """A version of `key` deployed to this workspace or first-party; None if never deployed."""
        return next(
            (v for v, _ in await self.history(workspace_id, key) if v.version_id == version_id),
            None,
        )

    async def current(self, workspace_id: str, key: str) -> VersionRef | None:
        """What a new install runs: the workspace's active deploy, else the newest first-party."""
        state = await self.store.extension_state(workspace_id, key)
        if state.active_version_id:
            return await self.find(workspace_id, key, state.active_version_id)
        first_party = await self.store.first_party_versions(key)
        return first_party[-1] if first_party else None

    async def deploy(
        self, caller: Principal, key: str, archive: bytes, mode: Mode, session: str | None = None
    ) -> VersionDeployed:
        """Store an immutable version (same bundle → same version) and apply it in `mode`.

        A draft belongs to `session` (the `backfill dev` run that deployed it): it replaces
        any earlier draft of the key and fires only for that session's deliveries.
        """
        caller.require_admin()
        try:
            manifest = manifest_of(archive)
        except ManifestError as error:
            raise ServiceError(
                f"invalid manifest: {error.field}: {error.message}", field=error.field
            ) from None
        except BundleError as error:
            raise ServiceError(f"invalid bundle: {error}", field="bundle") from None
        if manifest.key != key:
            raise ServiceError(
                f"manifest key {manifest.key!r} does not match the URL's {key!r}", field="key"
            )
        await self.hosts.refuse_manifest(manifest)  # no host inside the platform's network
        digest = digest_of(archive)
        await self.store.put_bundle(bundle_key(digest), archive)
        workspace_id = caller.workspace_id
        if self.check is not None:
            # Before anything commits: broken code never becomes a version (nor a draft).
            candidate = VersionRef(
                version_id=version_id_of(digest),
                digest=digest,
                label=manifest.version,
                deployed_at=time.time(),
                deployed_by=caller.member_id,
                manifest=manifest,
            )
            routes = await self.check.refuse_broken(workspace_id, candidate)  # read there
        else:
            try:
                routes = build_route_table(unpack(archive), manifest)
            except RouteFileError as error:
                raise ServiceError(f"invalid route: {error}", field=error.file) from None
        await self.store.keep_bundle(bundle_key(digest))  # before a version can reference it

        async def decide(changes: Changeset) -> VersionDeployed:
            existing = await self.find(workspace_id, key, version_id_of(digest))
            version = existing or VersionRef(
                version_id=version_id_of(digest),
                digest=digest,
                label=manifest.version,
                deployed_at=time.time(),
                deployed_by=caller.member_id,
                manifest=manifest,
                routes=routes,
            )
            if existing is None:
                changes.write(lambda p: self.store.put_private_version(p, workspace_id, version))
            changes.audit(
                "VersionDeployed",
                key,
                version_id=version.version_id,
                mode=mode,
                created=existing is None,
            )
            await self._apply(changes, version, mode, caller.member_id, session)
            return VersionDeployed(
                version_id=version.version_id,
                digest=digest,
                label=version.label,
                mode=mode,
                deployed_at=version.deployed_at,
                deployed_by=version.deployed_by,
                created=existing is None,
            )

        return await commit(self.store, self.relay, workspace_id, caller.member_id, decide)

    async def _apply(
        self,
        changes: Changeset,
        version: VersionRef,
        mode: Mode,
        member_id: str,
        session: str | None = None,
    ) -> None:
        workspace_id, key = changes.workspace_id, version.manifest.key
        state = await self.store.extension_state(workspace_id, key)
        records = [
            r
            for r in await self.store.installations(workspace_id)
            if r.snapshot.extension_key == key and r.snapshot.state != "uninstalled"
        ]
        vid = version.version_id
        if mode == "active":
            state = msgspec.structs.replace(
                state,
                active_version_id=vid,
                observation_version_id=None
                if state.observation_version_id == vid
                else state.observation_version_id,
            )
            switched = [cut_over(changes, record, version, approved=False) for record in records]
            if any(switched):
                await lift_for(self.store, changes, version.manifest)
        elif mode == "observe":
            state = msgspec.structs.replace(state, observation_version_id=vid)
            for record in records:
                if record.snapshot.observation != version:
                    changes.revise(record, observation=version)
        else:
            state = msgspec.structs.replace(
                state, draft_version_id=vid, draft_member_id=member_id, draft_session_id=session
            )
            for record in records:
                changes.revise(
                    record, draft=version, draft_member_id=member_id, draft_session_id=session
                )
        final: ExtensionState = state
        changes.write(lambda p: self.store.put_extension_state(p, workspace_id, final))

    async def remove_draft(self, caller: Principal, key: str, session: str | None) -> None:
        """Drop the draft of `key` from the workspace and its installations (admin).

        With `session`, only that session's draft goes: a `backfill dev` that ends late never
        removes the draft of a newer session. Removing no draft is not an error (idempotent).
        """
        caller.require_admin()
        workspace_id = caller.workspace_id

        async def decide(changes: Changeset) -> None:
            state = await self.store.extension_state(workspace_id, key)
            if state.draft_version_id is None or (
                session is not None and state.draft_session_id != session
            ):
                return
            changes.audit("DraftRemoved", key, version_id=state.draft_version_id)
            cleared = msgspec.structs.replace(
                state, draft_version_id=None, draft_member_id=None, draft_session_id=None
            )
            changes.write(lambda p: self.store.put_extension_state(p, workspace_id, cleared))
            for record in await self.store.installations(workspace_id):
                if record.snapshot.extension_key == key and record.snapshot.draft is not None:
                    changes.revise(record, draft=None, draft_member_id=None, draft_session_id=None)

        await commit(self.store, self.relay, workspace_id, caller.member_id, decide)

    async def promote(self, caller: Principal, key: str) -> Version:
        """Make the observation version of `key` active for every installation in the workspace."""
        caller.require_admin()
        workspace_id = caller.workspace_id

        async def decide(changes: Changeset) -> Version:
            state = await self.store.extension_state(workspace_id, key)
            if not state.observation_version_id:
                if not await self.history(workspace_id, key):
                    raise NotFound(f"no extension {key!r} in this workspace", field="key")
                raise Conflict(f"{key} has no observation version to promote", field="key")
            version = await self.find(workspace_id, key, state.observation_version_id)
            if version is None:
                raise NotFound(f"extension {key!r} not found", field="key")
            changes.audit("VersionPromoted", key, version_id=version.version_id)
            await self._apply(changes, version, "active", caller.member_id)
            return self._view(version, False, ["active"])

        return await commit(self.store, self.relay, workspace_id, caller.member_id, decide)

    async def list_versions(self, caller: Principal, key: str) -> list[Version]:
        """The whole history of `key`, oldest first, tagged with the workspace's version states."""
        history = await self.history(caller.workspace_id, key)
        if not history:
            raise NotFound(f"extension {key!r} not found", field="key")
        state = await self.store.extension_state(caller.workspace_id, key)
        current = await self.current(caller.workspace_id, key)
        views = []
        for version, first_party in history:
            tags: list[Any] = []
            if current is not None and version.version_id == current.version_id:
                tags.append("active")
            if version.version_id == state.observation_version_id:
                tags.append("observation")
            if version.version_id == state.draft_version_id:
                tags.append("draft")
            views.append(self._view(version, first_party, tags))
        return views

    @staticmethod
    def _view(version: VersionRef, first_party: bool, tags: list[Any]) -> Version:
        return Version(
            version_id=version.version_id,
            digest=version.digest,
            label=version.label,
            deployed_at=version.deployed_at,
            deployed_by=version.deployed_by,
            first_party=first_party,
            state=tags,
        )

    async def catalog(self, caller: Principal) -> list[CatalogEntry]:
        """First-party entries plus the workspace's private ones, each at its current version."""
        workspace_id = caller.workspace_id
        first_party = set(await self.store.first_party_keys())
        keys = sorted(first_party | set(await self.store.private_keys(workspace_id)))
        entries = []
        for key in keys:
            version = await self.current(workspace_id, key)
            if version is not None:
                entries.append(catalog_entry(version, key in first_party))
        return entries

    async def catalog_entry(self, caller: Principal, key: str) -> CatalogEntry:
        """One catalog entry; 404 for a key neither first-party nor deployed here."""
        version = await self.current(caller.workspace_id, key)
        if version is None:
            raise NotFound(f"extension {key!r} not found in the catalog", field="key")
        return catalog_entry(version, key in await self.store.first_party_keys())

    async def register_first_party(self, directory: Path) -> list[str]:
        """Pack and register every `<directory>/<key>/manifest.json`; idempotent by digest."""
        registered: list[str] = []
        for folder in await asyncio.to_thread(connector_folders, directory):
            try:
                archive, manifest = await asyncio.to_thread(pack, folder)
            except (ManifestError, BundleError) as error:
                log.error(
                    "first-party connector skipped",
                    extra={"folder": folder.name, "error": str(error)},
                )
                continue
            digest = digest_of(archive)
            await self.store.put_bundle(bundle_key(digest), archive)
            await self.store.keep_bundle(bundle_key(digest))
            version = VersionRef(
                version_id=version_id_of(digest),
                digest=digest,
                label=manifest.version,
                deployed_at=time.time(),
                deployed_by=FIRST_PARTY_DEPLOYER,
                manifest=manifest,
                routes=_first_party_routes(archive, manifest),
            )
            if await self.store.put_first_party_version(version):
                registered.append(version.version_id)
                log.info(
                    "first-party version registered",
                    extra={"key": manifest.key, "version_id": version.version_id},
                )
        return registered


def _first_party_routes(archive: bytes, manifest: Manifest) -> list[RouteSpec]:
    """A first-party bundle's routes; one the table refuses is logged and serves no route."""
    try:
        return build_route_table(unpack(archive), manifest)
    except RouteFileError as error:
        log.warning("first-party routes skipped", extra={"key": manifest.key, "error": str(error)})
        return []


def connector_folders(directory: Path) -> list[Path]:
    """Sub-directories holding a manifest.json, sorted; none when the directory is absent."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if (p / "manifest.json").is_file())


def catalog_entry(version: VersionRef, first_party: bool) -> CatalogEntry:
    """The manifest summary an admin reviews before installing."""
    manifest = version.manifest
    return CatalogEntry(
        key=manifest.key,
        kind=manifest.kind,
        name=manifest.name,
        description=manifest.description,
        first_party=first_party,
        version_id=version.version_id,
        version=version.label,
        permissions=permissions_of(manifest),
        pages=manifest.pages,
        ui=manifest.ui,
        settings_schema=msgspec.to_builtins(manifest.settings_schema),
        webhooks=manifest.webhooks is not None,
        oauth=manifest.oauth is not None,
        streams=[s.name for s in manifest.streams],
        test_connection=bool(manifest.connection and manifest.connection.test_connection),
    )
