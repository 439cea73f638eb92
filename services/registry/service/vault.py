"""Sealing and opening installation secrets with the keyring; which names a manifest allows."""

from __future__ import annotations

import time
from typing import Any

import msgspec

from contracts.installations import InstallationSnapshot
from contracts.manifest import Manifest
from contracts.secrets import SecretEntry
from services.base.secrets_crypto import Keyring, SecretBinding
from services.registry.stored import StoredInstallation


def declared_secrets(manifest: Manifest) -> set[str]:
    """Secret names an installation may hold: permissions, secret settings, webhook, OAuth."""
    names = set(manifest.permissions.secrets)
    names |= {n for n, p in manifest.settings_schema.properties.items() if p.secret}
    if manifest.webhooks is not None and manifest.webhooks.auth not in ("api_key", "public"):
        names.add(manifest.webhooks.secret)
    if manifest.oauth is not None:
        names.add(manifest.oauth.client_secret)
    return names


def credential_names(manifest: Manifest) -> set[str]:
    """Secrets the connector's testConnection checks (not the webhook or OAuth client secret)."""
    names = declared_secrets(manifest)
    if manifest.webhooks is not None:
        names.discard(manifest.webhooks.secret)
    if manifest.oauth is not None:
        names.discard(manifest.oauth.client_secret)
    return names


class SecretVault:
    """Seals and opens installation secrets with the keyring (newest key seals)."""

    def __init__(self, keyring: Keyring, grace_s: float) -> None:
        self.keyring = keyring
        self.grace_s = grace_s

    def seal_into(
        self, record: StoredInstallation, values: dict[str, str], actor: str
    ) -> tuple[StoredInstallation, dict[str, Any]]:
        """Seal `values` at their next revisions; return the record and the snapshot changes."""
        snap = record.snapshot
        now = time.time()
        secrets = dict(snap.secrets)
        rotating = {n: e for n, e in snap.rotating_secrets.items() if (e.valid_until or 0) > now}
        revisions = dict(record.secret_revisions)
        for name, value in values.items():
            revision = revisions.get(name, 0) + 1
            revisions[name] = revision
            binding = SecretBinding(
                workspace_id=snap.workspace_id,
                installation_id=snap.installation_id,
                name=name,
                revision=revision,
            )
            if name in secrets:
                rotating[name] = msgspec.structs.replace(
                    secrets[name], valid_until=now + self.grace_s
                )
            secrets[name] = SecretEntry(
                name=name,
                revision=revision,
                set_at=now,
                set_by=actor,
                sealed=self.keyring.seal(value.encode(), binding),
            )
        record = msgspec.structs.replace(record, secret_revisions=revisions)
        return record, {"secrets": secrets, "rotating_secrets": rotating}

    def reveal(self, snapshot: InstallationSnapshot) -> dict[str, str]:
        """Every current secret in plaintext: only for the internal test-connection call."""
        return {name: self.open(snapshot, entry) for name, entry in snapshot.secrets.items()}

    def oauth_access(self, snapshot: InstallationSnapshot) -> dict[str, str]:
        """`{"access_token": …}` of a connected OAuth connection (test-connection only)."""
        oauth = snapshot.oauth
        if oauth is None or oauth.status != "connected" or oauth.access_token is None:
            return {}
        binding = SecretBinding(
            workspace_id=snapshot.workspace_id,
            installation_id=snapshot.installation_id,
            name="oauth.access_token",
            revision=oauth.token_revision,
        )
        return {"access_token": self.keyring.open(oauth.access_token, binding).decode()}

    def open(self, snapshot: InstallationSnapshot, entry: SecretEntry) -> str:
        """One secret's plaintext."""
        binding = SecretBinding(
            workspace_id=snapshot.workspace_id,
            installation_id=snapshot.installation_id,
            name=entry.name,
            revision=entry.revision,
        )
        return self.keyring.open(entry.sealed, binding).decode()

    def rewrap(self, snapshot: InstallationSnapshot) -> dict[str, Any]:
        """Snapshot changes re-wrapping secrets and OAuth tokens with the newest key."""

        def again(entry: SecretEntry) -> SecretEntry:
            binding = SecretBinding(
                workspace_id=snapshot.workspace_id,
                installation_id=snapshot.installation_id,
                name=entry.name,
                revision=entry.revision,
            )
            return msgspec.structs.replace(entry, sealed=self.keyring.rewrap(entry.sealed, binding))

        changes: dict[str, Any] = {
            "secrets": {n: again(e) for n, e in snapshot.secrets.items()},
            "rotating_secrets": {n: again(e) for n, e in snapshot.rotating_secrets.items()},
        }
        oauth = snapshot.oauth
        if oauth is not None:
            tokens: dict[str, Any] = {}
            for field in ("access_token", "refresh_token"):
                sealed = getattr(oauth, field)
                if sealed is not None:
                    binding = SecretBinding(
                        workspace_id=snapshot.workspace_id,
                        installation_id=snapshot.installation_id,
                        name=f"oauth.{field}",
                        revision=oauth.token_revision,
                    )
                    tokens[field] = self.keyring.rewrap(sealed, binding)
            changes["oauth"] = msgspec.structs.replace(oauth, **tokens)
        return changes

    def needs_rewrap(self, snapshot: InstallationSnapshot) -> bool:
        """Whether any sealed value of the snapshot is wrapped by an older key."""
        primary = self.keyring.primary_version
        entries = [*snapshot.secrets.values(), *snapshot.rotating_secrets.values()]
        sealed = [e.sealed for e in entries]
        if snapshot.oauth is not None:
            sealed += [s for s in (snapshot.oauth.access_token, snapshot.oauth.refresh_token) if s]
        return any(s.kek_version != primary for s in sealed)
