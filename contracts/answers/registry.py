"""Answers of the registry API that the console reads: who signed in, members, the catalog,
installations, their versions, permissions, connection tests and OAuth state."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from contracts.manifest import MemberRole, Page, UIContribution


class Member(msgspec.Struct, frozen=True, kw_only=True):
    """A person (or automation) in a workspace, with a role."""

    id: str
    email: str
    role: MemberRole
    created_at: float


class Workspace(msgspec.Struct, frozen=True, kw_only=True):
    """A tenant: everything else belongs to exactly one workspace."""

    id: str
    slug: str
    name: str
    created_at: float


class Me(msgspec.Struct, frozen=True, kw_only=True):
    """Who a token belongs to: its workspace and member (with the role the console shows)."""

    workspace: Workspace
    member: Member


class PermissionSet(msgspec.Struct, frozen=True, kw_only=True):
    """Grants: `entity:access`, bare HTTPS hosts, secret names; entity types defined.

    `hooks` lists what the code runs on: `entity: event, event (hook name)` per hook.
    """

    entities: list[str] = []
    hosts: list[str] = []
    secrets: list[str] = []
    defines_entities: list[str] = []
    hooks: list[str] = []


class CatalogEntry(msgspec.Struct, frozen=True, kw_only=True):
    """An installable extension or connector with its manifest summary."""

    key: str
    kind: Literal["extension", "connector"]
    name: str
    description: str
    first_party: bool
    version_id: str
    version: str
    permissions: PermissionSet
    pages: list[Page] = []
    ui: list[UIContribution] = []
    settings_schema: dict[str, Any] = {}  # the manifest's settings schema, a JSON Schema document
    webhooks: bool = False
    oauth: bool = False
    streams: list[str] = []
    test_connection: bool = False  # the connector can check credentials before they are saved


class VersionSummary(msgspec.Struct, frozen=True, kw_only=True):
    """A version as shown on an installation."""

    version_id: str
    label: str
    digest: str
    deployed_at: float
    deployed_by: str


class SecretInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A secret's metadata; the value is write-only and never returned."""

    name: str
    revision: int
    set_at: float
    set_by: str
    previous_valid_until: float | None = None


class Installation(msgspec.Struct, frozen=True, kw_only=True):
    """An installation (or named connection) of an extension in the caller's workspace."""

    id: str
    extension_key: str
    kind: Literal["extension", "connector"]
    connection_name: str
    state: Literal["pending", "active", "disabled", "uninstalled"]
    revision: int
    active: VersionSummary | None
    observation: VersionSummary | None = None
    draft: VersionSummary | None = None
    pending_upgrade: VersionSummary | None = None
    settings: dict[str, Any] = {}
    missing_settings: list[str] = []
    secrets: list[SecretInfo] = []
    webhook_url: str | None = None
    oauth_status: Literal["not_connected", "connected", "needs_reauth"] | None = None
    created_at: float
    updated_at: float


class Version(msgspec.Struct, frozen=True, kw_only=True):
    """One immutable deployed version of an extension key."""

    version_id: str
    digest: str
    label: str
    deployed_at: float
    deployed_by: str
    first_party: bool
    state: list[Literal["active", "observation", "draft"]] = []


class InstallationVersions(msgspec.Struct, frozen=True, kw_only=True):
    """Version state of an installation: active, observation, draft and the key's history."""

    active: VersionSummary | None
    observation: VersionSummary | None
    draft: VersionSummary | None
    pending_upgrade: VersionSummary | None
    history: list[Version]


class UpgradeDiff(msgspec.Struct, frozen=True, kw_only=True):
    """What moving an installation to another version adds and removes."""

    from_version: str | None
    to_version: str
    added: PermissionSet
    removed: PermissionSet
    widens: bool


class OAuthStatusView(msgspec.Struct, frozen=True, kw_only=True):
    """OAuth state of a connection (tokens never shown)."""

    status: Literal["not_connected", "connected", "needs_reauth"]
    scopes: list[str] = []
    expires_at: float | None = None


class ConnectionTest(msgspec.Struct, frozen=True, kw_only=True):
    """The connector's verdict on the credentials."""

    ok: bool
    message: str = ""


class OAuthStart(msgspec.Struct, frozen=True, kw_only=True):
    """Where to send the admin to authorize; `state` comes back on the callback."""

    authorization_url: str
    state: str
