"""HTTP shapes of the registry API (`Thing`, `ThingCreate`, `ThingUpdate`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

# Answers another service reads are declared once, in contracts.answers (re-exported here).
from contracts.answers.registry import (  # noqa: F401
    CatalogEntry,
    ConnectionTest,
    Installation,
    InstallationVersions,
    Me,
    Member,
    OAuthStart,
    OAuthStatusView,
    PermissionSet,
    SecretInfo,
    UpgradeDiff,
    Version,
    VersionSummary,
    Workspace,
)
from services.base.auth import Role


class MemberCreate(msgspec.Struct, frozen=True, kw_only=True):
    """Add a member to the caller's workspace."""

    email: str = msgspec.field()
    role: Role = "member"


class TokenCreate(msgspec.Struct, frozen=True, kw_only=True):
    """Issue an API token for a member of the caller's workspace (default: the caller)."""

    name: str = "api"
    member_id: str | None = None


class TokenIssued(msgspec.Struct, frozen=True, kw_only=True):
    """A new token: the plaintext is in this response only and never again."""

    id: str
    name: str
    member_id: str
    role: Role
    token: str
    created_at: float


class TokenInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A token's metadata (never the token)."""

    id: str
    name: str
    member_id: str
    created_at: float
    status: Literal["active", "revoked"] = "active"


class VersionDeployed(msgspec.Struct, frozen=True, kw_only=True):
    """The answer to a deploy: the (possibly pre-existing) content-addressed version."""

    version_id: str
    digest: str
    label: str
    mode: Literal["active", "observe", "draft"]
    deployed_at: float
    deployed_by: str
    created: bool


class InstallationCreate(msgspec.Struct, frozen=True, kw_only=True):
    """Install an extension key, optionally as a named connection, with initial settings."""

    extension_key: str
    connection_name: str = "default"
    settings: dict[str, Any] = {}


class SettingsUpdate(msgspec.Struct, frozen=True, kw_only=True):
    """Change settings: given keys are set (null removes); secret fields go to the secret store."""

    settings: dict[str, Any]


class SecretUpdate(msgspec.Struct, frozen=True, kw_only=True):
    """Set or rotate a secret; the value is write-only."""

    value: str


class VersionChange(msgspec.Struct, frozen=True, kw_only=True):
    """Move an installation to `to` (upgrade default: the key's current version).

    `approve_permissions` approves a widening of permissions shown by `upgrade-diff`.
    """

    to: str | None = None
    approve_permissions: bool = False


class WebhookEndpoint(msgspec.Struct, frozen=True, kw_only=True):
    """The per-installation URL to paste into the provider's webhook settings."""

    hook_id: str
    url: str


class ConnectionTestCreate(msgspec.Struct, frozen=True, kw_only=True):
    """Test these settings (plain and secret fields, over the stored ones); nothing is saved."""

    settings: dict[str, Any] = {}


class OAuthReport(msgspec.Struct, frozen=True, kw_only=True):
    """Internal (sync → registry): refreshed tokens, or a refresh the provider refused."""

    workspace_id: str
    status: Literal["connected", "needs_reauth"]
    access_token: str | None = None
    refresh_token: str | None = None
    expires_in: float | None = None
    reason: str = ""
    # The token revision the reporter's tokens came from: a report about an older revision
    # than the registry's (a reconnect happened meanwhile) is stale and changes nothing.
    token_revision: int | None = None


class ApiKeyCreate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Create an API key for an installation's `api_key` routes."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=80)]


class ApiKeyRotate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Rotate a key: the old one keeps working `overlap_seconds` (0: stops at once)."""

    overlap_seconds: Annotated[int, msgspec.Meta(ge=0, le=604800)] = 0
