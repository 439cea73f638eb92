"""Sealed secret values as they travel in snapshots and rest in Redis: ciphertext only."""

from __future__ import annotations

from contracts.base import Message


class SealedSecret(Message, frozen=True, kw_only=True):
    """An AES-256-GCM envelope: the value under a fresh data key, the data key under a KEK.

    Both layers authenticate workspace, installation, secret name and revision as associated
    data, so a sealed value copied to another binding does not decrypt.
    """

    kek_version: str
    wrapped_key: bytes
    wrap_nonce: bytes
    nonce: bytes
    ciphertext: bytes


class SecretEntry(Message, frozen=True, kw_only=True):
    """One named secret of an installation: metadata plus its sealed value."""

    name: str
    revision: int
    set_at: float
    set_by: str
    sealed: SealedSecret
    valid_until: float | None = None
