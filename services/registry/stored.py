"""Registry state as stored in Redis (not HTTP shapes, not Kafka contracts)."""

from __future__ import annotations

import msgspec

from contracts.installations import InstallationSnapshot


class StoredInstallation(msgspec.Struct, frozen=True, kw_only=True):
    """One installation: its published snapshot plus what only the registry needs."""

    snapshot: InstallationSnapshot
    created_at: float
    created_by: str
    # Last revision ever used per secret name: a re-set secret never reuses a revision,
    # so an old ciphertext cannot be replayed under a new binding.
    secret_revisions: dict[str, int] = {}


class ExtensionState(msgspec.Struct, frozen=True, kw_only=True):
    """Which deployed version of one key a workspace runs, observes and drafts."""

    key: str
    active_version_id: str | None = None
    observation_version_id: str | None = None
    draft_version_id: str | None = None
    draft_member_id: str | None = None
    draft_session_id: str | None = None


class OAuthPending(msgspec.Struct, frozen=True, kw_only=True):
    """An authorization started and not yet called back; expires with its Redis TTL."""

    workspace_id: str
    installation_id: str
    member_id: str
    code_verifier: str
    redirect_uri: str
    created_at: float
