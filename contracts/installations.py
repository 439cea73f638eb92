"""Installation snapshots: the registry's full, current view of one installation."""

from __future__ import annotations

from typing import Any, Literal

from contracts.base import Message
from contracts.manifest import Manifest
from contracts.routes import RouteSpec
from contracts.secrets import SealedSecret, SecretEntry

InstallationState = Literal["pending", "active", "disabled", "uninstalled"]
OAuthStatus = Literal["not_connected", "connected", "needs_reauth"]


class VersionRef(Message, frozen=True, kw_only=True):
    """One immutable deployed version: content-addressed bundle plus its manifest."""

    version_id: str
    digest: str
    label: str
    deployed_at: float
    deployed_by: str
    manifest: Manifest
    # Added compatibly: the version's API routes, built at deploy from src/api/ (contracts/routes).
    routes: list[RouteSpec] = []


class OAuthConnection(Message, frozen=True, kw_only=True):
    """OAuth state of a connection; tokens only sealed."""

    status: OAuthStatus = "not_connected"
    access_token: SealedSecret | None = None
    refresh_token: SealedSecret | None = None
    token_revision: int = 0
    expires_at: float | None = None
    scopes: list[str] = []


class InstallationSnapshot(Message, frozen=True, kw_only=True):
    """Everything ingress and sync need to serve one installation, at one revision.

    Keyed by installation id on a compacted topic. Consumers keep the highest revision per
    key and ignore older ones, so replays and republishing are harmless. `active` is the
    version every live invocation runs; `observation` runs in shadow with writes intercepted;
    `draft` fires only for `draft_member_id`'s dev session (`draft_session_id`). Secrets
    travel sealed.
    """

    installation_id: str
    workspace_id: str
    extension_key: str
    kind: Literal["extension", "connector"]
    connection_name: str = "default"
    revision: int
    state: InstallationState
    active: VersionRef | None = None
    observation: VersionRef | None = None
    draft: VersionRef | None = None
    draft_member_id: str | None = None
    # Added compatibly: the `backfill dev` session the draft fires for (ingress runs the draft
    # only for deliveries to `/hooks/<hook_id>/dev/<draft_session_id>`).
    draft_session_id: str | None = None
    pending_upgrade: VersionRef | None = None
    settings: dict[str, Any] = {}
    secrets: dict[str, SecretEntry] = {}
    # The previous revision of a just-rotated secret, still accepted (e.g. for webhook
    # signatures) until its `valid_until`: providers switch secrets with some delay.
    rotating_secrets: dict[str, SecretEntry] = {}
    hook_id: str | None = None
    oauth: OAuthConnection | None = None
    write_protected_entities: list[str] = []
    updated_at: float
