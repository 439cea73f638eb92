"""HTTP in: installations, settings, secrets, permissions and version state."""

from __future__ import annotations

from litestar import Controller, Response, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from services.base.auth import Principal
from services.registry.routes.pages import MAX_PAGE, After, Limit, page_of
from services.registry.schemas import (
    Installation,
    InstallationCreate,
    InstallationVersions,
    PermissionSet,
    SecretInfo,
    SecretUpdate,
    SettingsUpdate,
    UpgradeDiff,
    VersionChange,
)
from services.registry.service.installation_versions import InstallationVersionService
from services.registry.service.installations import InstallationService
from services.registry.service.secrets import SecretService


class InstallationController(Controller):
    """Installations (and named connections) of the caller's workspace."""

    path = "/v1/installations"
    tags = ["installations"]

    @get("/")
    async def list_installations(
        self,
        principal: NamedDependency[Principal],
        installations: NamedDependency[InstallationService],
        limit: Limit = MAX_PAGE,
        after: After = None,
    ) -> Response[list[Installation]]:
        """Installations that are not uninstalled, oldest first; paged (`Link: rel="next"`)."""
        found = await installations.list_installations(principal)
        return page_of(found, path="/v1/installations", limit=limit, after=after)

    @post("/")
    async def install_extension(
        self,
        principal: NamedDependency[Principal],
        installations: NamedDependency[InstallationService],
        data: JSONBody[InstallationCreate],
    ) -> Installation:
        """Install (admin): active at once, or pending until required settings are set."""
        return await installations.install(principal, data)

    @get("/{installation_id:str}")
    async def get_installation(
        self,
        principal: NamedDependency[Principal],
        installations: NamedDependency[InstallationService],
        installation_id: FromPath[str],
    ) -> Installation:
        """One installation."""
        return await installations.get(principal, installation_id)

    @delete("/{installation_id:str}", status_code=200)
    async def uninstall_extension(
        self,
        principal: NamedDependency[Principal],
        installations: NamedDependency[InstallationService],
        installation_id: FromPath[str],
    ) -> Installation:
        """Uninstall (admin): settings and secrets deleted; defined entities write-protected."""
        return await installations.uninstall(principal, installation_id)

    @patch("/{installation_id:str}/settings")
    async def update_settings(
        self,
        principal: NamedDependency[Principal],
        installations: NamedDependency[InstallationService],
        installation_id: FromPath[str],
        data: JSONBody[SettingsUpdate],
    ) -> Installation:
        """Change settings (admin); validated per field, effective at once."""
        return await installations.update_settings(principal, installation_id, data.settings)

    @post("/{installation_id:str}/disable", status_code=200)
    async def disable_installation(
        self,
        principal: NamedDependency[Principal],
        installations: NamedDependency[InstallationService],
        installation_id: FromPath[str],
    ) -> Installation:
        """Stop hooks, jobs, routes, webhooks and polls; keep the configuration (admin)."""
        return await installations.set_enabled(principal, installation_id, False)

    @post("/{installation_id:str}/enable", status_code=200)
    async def enable_installation(
        self,
        principal: NamedDependency[Principal],
        installations: NamedDependency[InstallationService],
        installation_id: FromPath[str],
    ) -> Installation:
        """Resume a disabled installation (admin)."""
        return await installations.set_enabled(principal, installation_id, True)

    @get("/{installation_id:str}/secrets")
    async def list_secrets(
        self,
        principal: NamedDependency[Principal],
        secrets: NamedDependency[SecretService],
        installation_id: FromPath[str],
    ) -> list[SecretInfo]:
        """Secret names with metadata; values are write-only."""
        return await secrets.list_secrets(principal, installation_id)

    @put("/{installation_id:str}/secrets/{name:str}")
    async def put_secret(
        self,
        principal: NamedDependency[Principal],
        secrets: NamedDependency[SecretService],
        installation_id: FromPath[str],
        name: FromPath[str],
        data: JSONBody[SecretUpdate],
    ) -> SecretInfo:
        """Set or rotate a secret (admin); the previous value stays valid for a grace window."""
        return await secrets.put_secret(principal, installation_id, name, data.value)

    @delete("/{installation_id:str}/secrets/{name:str}", status_code=204)
    async def delete_secret(
        self,
        principal: NamedDependency[Principal],
        secrets: NamedDependency[SecretService],
        installation_id: FromPath[str],
        name: FromPath[str],
    ) -> None:
        """Revoke a secret (admin)."""
        await secrets.delete_secret(principal, installation_id, name)

    @get("/{installation_id:str}/permissions")
    async def get_permissions(
        self,
        principal: NamedDependency[Principal],
        installation_versions: NamedDependency[InstallationVersionService],
        installation_id: FromPath[str],
    ) -> PermissionSet:
        """What the active manifest grants (read-only)."""
        return await installation_versions.permissions(principal, installation_id)

    @get("/{installation_id:str}/upgrade-diff")
    async def get_upgrade_diff(
        self,
        principal: NamedDependency[Principal],
        installation_versions: NamedDependency[InstallationVersionService],
        installation_id: FromPath[str],
        to: FromQuery[str],
    ) -> UpgradeDiff:
        """Entities, hosts and secrets version `to` adds and removes."""
        return await installation_versions.upgrade_diff(principal, installation_id, to)

    @get("/{installation_id:str}/versions")
    async def get_versions(
        self,
        principal: NamedDependency[Principal],
        installation_versions: NamedDependency[InstallationVersionService],
        installation_id: FromPath[str],
    ) -> InstallationVersions:
        """Active, observation, draft, pending upgrade and the key's history."""
        return await installation_versions.version_state(principal, installation_id)

    @post("/{installation_id:str}/upgrade", status_code=200)
    async def upgrade_installation(
        self,
        principal: NamedDependency[Principal],
        installation_versions: NamedDependency[InstallationVersionService],
        installation_id: FromPath[str],
        data: JSONBody[VersionChange],
    ) -> Installation:
        """Upgrade (admin); a widening upgrade waits as pending_upgrade until approved."""
        return await installation_versions.upgrade(principal, installation_id, data)

    @post("/{installation_id:str}/rollback", status_code=200)
    async def rollback_installation(
        self,
        principal: NamedDependency[Principal],
        installation_versions: NamedDependency[InstallationVersionService],
        installation_id: FromPath[str],
        data: JSONBody[VersionChange],
    ) -> Installation:
        """Make a prior version active (admin), in one atomic cutover."""
        return await installation_versions.rollback(principal, installation_id, data)

    @post("/{installation_id:str}/promote", status_code=200)
    async def promote_installation(
        self,
        principal: NamedDependency[Principal],
        installation_versions: NamedDependency[InstallationVersionService],
        installation_id: FromPath[str],
        data: JSONBody[VersionChange],
    ) -> Installation:
        """Make this installation's observation version active (admin)."""
        return await installation_versions.promote(principal, installation_id, data)
