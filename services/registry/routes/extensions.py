"""HTTP in: the catalog, deploys, version history and promotion of extension keys."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.openapi.spec import (
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
)
from litestar.params import FromPath, FromQuery

from services.base.auth import Principal
from services.registry.routes.pages import MAX_PAGE, After, Limit, page_of
from services.registry.schemas import CatalogEntry, Version, VersionDeployed
from services.registry.service.versions import VersionService


@dataclass
class BundleUpload(Operation):
    """OpenAPI: the deploy body is a raw bundle archive, not JSON."""

    def __post_init__(self) -> None:
        self.request_body = RequestBody(
            content={
                "application/gzip": OpenAPIMediaType(
                    schema=Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY)
                )
            },
            description="The bundle archive (`sdk.bundle.pack`) with its manifest.json.",
            required=True,
        )


class CatalogController(Controller):
    """First-party extensions plus the workspace's private ones, with manifest summaries."""

    path = "/v1/catalog"
    tags = ["catalog"]

    @get("/")
    async def list_catalog(
        self,
        principal: NamedDependency[Principal],
        versions: NamedDependency[VersionService],
        limit: Limit = MAX_PAGE,
        after: After = None,
    ) -> Response[list[CatalogEntry]]:
        """Everything installable in the caller's workspace; paged by key."""
        entries = await versions.catalog(principal)
        return page_of(entries, path="/v1/catalog", limit=limit, after=after, id_of=_key)

    @get("/{key:str}")
    async def get_catalog_entry(
        self,
        principal: NamedDependency[Principal],
        versions: NamedDependency[VersionService],
        key: FromPath[str],
    ) -> CatalogEntry:
        """One entry: permissions, pages, UI contributions, settings form, version."""
        return await versions.catalog_entry(principal, key)


class ExtensionController(Controller):
    """Immutable versions of an extension key in the caller's workspace."""

    path = "/v1/extensions"
    tags = ["versions"]

    @post("/{key:str}/versions", operation_class=BundleUpload, status_code=201)
    async def deploy_version(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        versions: NamedDependency[VersionService],
        key: FromPath[str],
        mode: FromQuery[Literal["active", "observe", "draft"]] = "active",
        session: FromQuery[str | None] = None,
    ) -> Response[VersionDeployed]:
        """Deploy a bundle (admin). 201 for a new version, 200 when this bundle already exists.

        `mode=draft&session=S`: the draft fires only for dev session S (`backfill dev`).
        """
        deployed = await versions.deploy(principal, key, await request.body(), mode, session)
        return Response(deployed, status_code=201 if deployed.created else 200)

    @get("/{key:str}/versions")
    async def list_versions(
        self,
        principal: NamedDependency[Principal],
        versions: NamedDependency[VersionService],
        key: FromPath[str],
        limit: Limit = MAX_PAGE,
        after: After = None,
    ) -> Response[list[Version]]:
        """The history, oldest first, tagged active / observation / draft; paged."""
        history = await versions.list_versions(principal, key)
        path = f"/v1/extensions/{key}/versions"
        return page_of(history, path=path, limit=limit, after=after, id_of=_version_id)

    @post("/{key:str}/promote", status_code=200)
    async def promote_version(
        self,
        principal: NamedDependency[Principal],
        versions: NamedDependency[VersionService],
        key: FromPath[str],
    ) -> Version:
        """Make the observation version active (admin); widening installs await approval."""
        return await versions.promote(principal, key)

    @delete("/{key:str}/draft", status_code=204)
    async def remove_draft(
        self,
        principal: NamedDependency[Principal],
        versions: NamedDependency[VersionService],
        key: FromPath[str],
        session: FromQuery[str | None] = None,
    ) -> None:
        """Remove the draft (admin); with `session`, only if it is that dev session's draft."""
        await versions.remove_draft(principal, key, session)


def _key(entry: CatalogEntry) -> str:
    return entry.key


def _version_id(version: Version) -> str:
    return version.version_id
