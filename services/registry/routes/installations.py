"""HTTP in: installations, settings, secrets, permissions and version state."""

from __future__ import annotations

from litestar import Controller, delete, get, patch, post, put

from services.base.auth import Principal
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
        self, principal: Principal, installations: InstallationService
    ) -> list[Installation]:
        """Every installation that is not uninstalled."""
        return await installations.list_installations(principal)

    @post("/")
    async def install_extension(
        self, principal: Principal, installations: InstallationService, data: InstallationCreate
    ) -> Installation:
        """Install (admin): active at once, or pending until required settings are set."""
        return await installations.install(principal, data)

    @get("/{installation_id:str}")
    async def get_installation(
        self, principal: Principal, installations: InstallationService, installation_id: str
    ) -> Installation:
        """One installation."""
        return await installations.get(principal, installation_id)

    @delete("/{installation_id:str}", status_code=200)
    async def uninstall_extension(
        self, principal: Principal, installations: InstallationService, installation_id: str
    ) -> Installation:
        """Uninstall (admin): settings and secrets deleted; defined entities write-protected."""
        return await installations.uninstall(principal, installation_id)

    @patch("/{installation_id:str}/settings")
    async def update_settings(
        self,
        principal: Principal,
        installations: InstallationService,
        installation_id: str,
        data: SettingsUpdate,
    ) -> Installation:
        """Change settings (admin); validated per field, effective at once."""
        return await installations.update_settings(principal, installation_id, data.settings)

    @post("/{installation_id:str}/disable", status_code=200)
    async def disable_installation(
        self, principal: Principal, installations: InstallationService, installation_id: str
    ) -> Installation:
        """Stop hooks, jobs, routes, webhooks and polls; keep the configuration (admin)."""
        return await installations.set_enabled(principal, installation_id, False)

    @post("/{installation_id:str}/enable", status_code=200)
    async def enable_installation(
        self, principal: Principal, installations: InstallationService, installation_id: str
    ) -> Installation:
        """Resume a disabled installation (admin)."""
        return await installations.set_enabled(principal, installation_id, True)

    @get("/{installation_id:str}/secrets")
    async def list_secrets(
        self, principal: Principal, secrets: SecretService, installation_id: str
    ) -> list[SecretInfo]:
        """Secret names with metadata; values are write-only."""
        return await secrets.list_secrets(principal, installation_id)

    @put("/{installation_id:str}/secrets/{name:str}")
    async def put_secret(
        self,
        principal: Principal,
        secrets: SecretService,
        installation_id: str,
        name: str,
        data: SecretUpdate,
    ) -> SecretInfo:
        """Set or rotate a secret (admin); the previous value stays valid for a grace window."""
        return await secrets.put_secret(principal, installation_id, name, data.value)

    @delete("/{installation_id:str}/secrets/{name:str}", status_code=204)
    async def delete_secret(
        self, principal: Principal, secrets: SecretService, installation_id: str, name: str
    ) -> None:
        """Revoke a secret (admin)."""
        await secrets.delete_secret(principal, installation_id, name)

    @get("/{installation_id:str}/permissions")
    async def get_permissions(
        self,
        principal: Principal,
        installation_versions: InstallationVersionService,
        installation_id: str,
    ) -> PermissionSet:
        """What the active manifest grants (read-only)."""
        return await installation_versions.permissions(principal, installation_id)

    @get("/{installation_id:str}/upgrade-diff")
    async def get_upgrade_diff(
        self,
        principal: Principal,
        installation_versions: InstallationVersionService,
        installation_id: str,
        to: str,
    ) -> UpgradeDiff:
        """Entities, hosts and secrets version `to` adds and removes."""
        return await installation_versions.upgrade_diff(principal, installation_id, to)

    @get("/{installation_id:str}/versions")
    async def get_versions(
        self,
        principal: Principal,
        installation_versions: InstallationVersionService,
        installation_id: str,
    ) -> InstallationVersions:
        """Active, observation, draft, pending upgrade and the key's history."""
        return await installation_versions.version_state(principal, installation_id)

    @post("/{installation_id:str}/upgrade", status_code=200)
    async def upgrade_installation(
        self,
        principal: Principal,
        installation_versions: InstallationVersionService,
        installation_id: str,
        data: VersionChange,
    ) -> Installation:
        """Upgrade (admin); a widening upgrade waits as pending_upgrade until approved."""
        return await installation_versions.upgrade(principal, installation_id, data)

    @post("/{installation_id:str}/rollback", status_code=200)
    async def rollback_installation(
        self,
        principal: Principal,
        installation_versions: InstallationVersionService,
        installation_id: str,
        data: VersionChange,
    ) -> Installation:
        """Make a prior version active (admin), in one atomic cutover."""
        return await installation_versions.rollback(principal, installation_id, data)

    @post("/{installation_id:str}/promote", status_code=200)
    async def promote_installation(
        self,
        principal: Principal,
        installation_versions: InstallationVersionService,
        installation_id: str,
        data: VersionChange,
    ) -> Installation:
        """Make this installation's observation version active (admin)."""
        return await installation_versions.promote(principal, installation_id, data)
