"""The webhook signing secrets of an installation, opened from its snapshot when needed.

The secret named by `manifest.webhooks.secret` is accepted, and so is the previous revision of
a rotated one while its `valid_until` is in the future (providers switch with some delay).
Plaintext stays in this process' memory only, cached per snapshot revision; it is never
logged, stored in Redis or published.
"""

from __future__ import annotations

from collections.abc import Mapping

from contracts.installations import InstallationSnapshot
from contracts.manifest import Webhooks
from contracts.secrets import SecretEntry
from services.base.secrets_crypto import DecryptionError, Keyring
from services.ingress.signatures import SignatureError, verify

Opened = tuple[int, str, float | None]  # revision, plaintext, valid_until


class SigningKeys:
    """Verifies deliveries against the secrets a snapshot carries."""

    def __init__(self, keyring: Keyring | None, tolerance_s: int = 300) -> None:
        self.keyring = keyring
        self.tolerance_s = tolerance_s
        self._cache: dict[str, tuple[int, dict[str, list[Opened]]]] = {}

    def verify(
        self,
        snapshot: InstallationSnapshot,
        webhooks: Webhooks,
        body: bytes,
        headers: Mapping[str, str],
        now: float,
    ) -> int | None:
        """Return the revision of the secret that verified (None for `public`); else raise."""
        if webhooks.auth == "public":
            return None
        secrets = [s for s in self._opened(snapshot, webhooks.secret) if s[2] is None or s[2] > now]
        if not secrets:
            raise SignatureError("no_secret_configured")
        error: SignatureError | None = None
        for revision, plaintext, _ in secrets:
            try:
                verify(
                    webhooks.auth,
                    body=body,
                    headers=headers,
                    secrets=[plaintext],
                    now=now,
                    tolerance_s=self.tolerance_s,
                )
                return revision
            except SignatureError as failed:
                error = failed
        raise error or SignatureError("no_matching_signature")

    def verify_with(
        self,
        snapshot: InstallationSnapshot,
        webhooks: Webhooks,
        entry: SecretEntry,
        body: bytes,
        headers: Mapping[str, str],
        at: float,
    ) -> None:
        """Re-check a stored delivery with the secret revision that verified it, as of `at`."""
        plaintext = self._open(snapshot, entry)
        if plaintext is None:
            raise SignatureError("secret_unavailable")
        verify(
            webhooks.auth,
            body=body,
            headers=headers,
            secrets=[plaintext],
            now=at,
            tolerance_s=self.tolerance_s,
        )

    def _opened(self, snapshot: InstallationSnapshot, name: str) -> list[Opened]:
        revision, by_name = self._cache.get(snapshot.installation_id, (-1, {}))
        if revision != snapshot.revision:  # a new snapshot drops what the old one opened
            by_name = {}
            self._cache[snapshot.installation_id] = (snapshot.revision, by_name)
        cached = by_name.get(name)
        if cached is None:
            cached = []
            for entries in (snapshot.secrets, snapshot.rotating_secrets):
                entry = entries.get(name)
                plaintext = self._open(snapshot, entry) if entry is not None else None
                if entry is not None and plaintext:
                    rotating = entries is snapshot.rotating_secrets
                    until = (entry.valid_until or 0.0) if rotating else None
                    cached.append((entry.revision, plaintext, until))
            by_name[name] = cached
        return cached

    def _open(self, snapshot: InstallationSnapshot, entry: SecretEntry) -> str | None:
        if self.keyring is None:
            return None
        try:
            return self.keyring.open_secret(snapshot, entry)
        except DecryptionError:
            return None
