"""Envelope encryption (AES-256-GCM) for write-only extension secrets, with a versioned keyring."""

from __future__ import annotations

import base64
import os
import re
import struct
from collections.abc import Iterable

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from contracts.installations import InstallationSnapshot
from contracts.secrets import SealedSecret, SecretEntry

KEY_BYTES = 32  # AES-256 for both KEKs and DEKs.
NONCE_BYTES = 12  # 96-bit GCM nonce, the size GCM is specified and analysed for.
_VERSION_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
# Domain-separation labels: a value AAD can never be mistaken for a wrap AAD, and bumping the
# label is how a future format change would be made incompatible on purpose.
_VALUE_LABEL = b"backfill/secret-value/v1"
_WRAP_LABEL = b"backfill/secret-dek-wrap/v1"


class SecretBinding(msgspec.Struct, frozen=True, kw_only=True):
    """Identity a ciphertext is bound to; opening under any other binding fails."""

    workspace_id: str
    installation_id: str
    name: str
    revision: int


class KeyringError(Exception):
    """Invalid keyring configuration or unknown KEK version; never carries key material."""


class DecryptionError(Exception):
    """Sealed secret could not be opened; never carries key material or plaintext."""


class UnknownKeyVersionError(KeyringError, DecryptionError):
    """Sealed secret names a KEK version not in the ring (retired, or a tampered label)."""


def _aad(label: bytes, binding: SecretBinding, *extra: str) -> bytes:
    """Build associated data that encodes every field unambiguously (length-prefixed)."""
    # Why AAD: GCM authenticates it without storing it, so a ciphertext copied onto another
    # workspace/installation/name/revision row fails to open instead of leaking or being replayed.
    # Length prefixes make ("ab", "c") and ("a", "bc") distinct, which a plain join would not.
    fields = [binding.workspace_id, binding.installation_id, binding.name, *extra]
    out = [struct.pack(">I", len(label)), label]
    for field in fields:
        raw = field.encode("utf-8")
        out += [struct.pack(">I", len(raw)), raw]
    out.append(struct.pack(">q", binding.revision))
    return b"".join(out)


def _decode_key(text: str) -> bytes:
    """Decode standard or urlsafe base64, padding optional; raises ValueError on bad input."""
    text = text.strip().rstrip("=")
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)


class Keyring:
    """Ordered set of KEKs: the first is primary (encrypts); every listed one may decrypt."""

    __slots__ = ("_keks", "_versions")

    def __init__(self, entries: Iterable[tuple[str, bytes]]) -> None:
        """Build from (version, 32-byte key) pairs; the first pair becomes the primary."""
        keks: dict[str, AESGCM] = {}
        for pos, (version, key) in enumerate(entries, start=1):
            if not isinstance(version, str) or not _VERSION_RE.fullmatch(version):
                raise KeyringError(f"keyring entry {pos}: version must match {_VERSION_RE.pattern}")
            if version in keks:
                raise KeyringError(f"keyring entry {pos}: duplicate version {version!r}")
            if len(key) != KEY_BYTES:
                raise KeyringError(
                    f"keyring entry {pos} (version {version!r}): key must be {KEY_BYTES} bytes, "
                    f"got {len(key)}"
                )
            keks[version] = AESGCM(bytes(key))  # raw key bytes are not kept on the instance
        if not keks:
            raise KeyringError("keyring is empty: need at least one 'version:base64key' entry")
        self._keks = keks
        self._versions = tuple(keks)

    @classmethod
    def parse(cls, text: str) -> Keyring:
        """Parse "v2:KEY,v1:KEY"; errors name the entry position/version, never the key text."""
        if not text or not text.strip():
            raise KeyringError("keyring setting is empty: expected 'version:base64key[,...]'")
        entries: list[tuple[str, bytes]] = []
        for pos, entry in enumerate(text.split(","), start=1):
            version, sep, key_text = entry.strip().partition(":")
            if not sep:  # whole entry may be a bare key, so do not echo any of it
                raise KeyringError(f"keyring entry {pos}: expected 'version:base64key'")
            version = version.strip()
            if not _VERSION_RE.fullmatch(version):  # not echoed: it may be pasted key text
                raise KeyringError(f"keyring entry {pos}: version must match {_VERSION_RE.pattern}")
            try:
                key = _decode_key(key_text)
            except ValueError:
                # `from None`: the decoder's exception must not ride along in tracebacks.
                raise KeyringError(
                    f"keyring entry {pos} (version {version!r}): key is not valid base64"
                ) from None
            entries.append((version, key))
        return cls(entries)

    @staticmethod
    def generate_entry(version: str) -> str:
        """Return "version:BASE64" holding a fresh random 256-bit key from the OS CSPRNG."""
        if not _VERSION_RE.fullmatch(version):
            raise KeyringError(f"version must match {_VERSION_RE.pattern}")
        return f"{version}:{base64.urlsafe_b64encode(AESGCM.generate_key(256)).decode('ascii')}"

    @property
    def primary_version(self) -> str:
        """Version used for every new seal/rewrap: the first listed entry."""
        return self._versions[0]

    @property
    def versions(self) -> tuple[str, ...]:
        """All versions able to decrypt, primary first."""
        return self._versions

    def seal(self, plaintext: bytes, binding: SecretBinding) -> SealedSecret:
        """Encrypt under a fresh DEK bound to `binding`, wrapping the DEK with the primary KEK."""
        # Why a fresh DEK per value: each DEK encrypts exactly one message, so random-nonce reuse
        # under it is impossible, and key rotation only rewraps 32-byte DEKs, never the values.
        dek, nonce = AESGCM.generate_key(256), os.urandom(NONCE_BYTES)
        ciphertext = AESGCM(dek).encrypt(nonce, plaintext, _aad(_VALUE_LABEL, binding))
        return self._wrap(dek, binding, nonce, ciphertext)

    def open(self, sealed: SealedSecret, binding: SecretBinding) -> bytes:
        """Return the plaintext only if record, binding and KEK all authenticate."""
        dek = self._unwrap(sealed, binding)
        try:
            return AESGCM(dek).decrypt(sealed.nonce, sealed.ciphertext, _aad(_VALUE_LABEL, binding))
        except InvalidTag:
            raise DecryptionError("secret value failed authentication (binding/tamper)") from None

    def open_secret(self, installation: InstallationSnapshot, entry: SecretEntry) -> str:
        """The UTF-8 plaintext of one of `installation`'s secret entries (its own binding).

        Raises DecryptionError when the entry does not authenticate under that binding.
        This is the `runtime.interface.SecretOpener` the runtime is handed.
        """
        binding = SecretBinding(
            workspace_id=installation.workspace_id,
            installation_id=installation.installation_id,
            name=entry.name,
            revision=entry.revision,
        )
        try:
            return self.open(entry.sealed, binding).decode("utf-8")
        except UnicodeDecodeError:
            raise DecryptionError("secret value is not UTF-8") from None

    def rewrap(self, sealed: SealedSecret, binding: SecretBinding) -> SealedSecret:
        """Re-wrap only the DEK under the primary KEK; already-primary input is returned as is."""
        # The value ciphertext is never decrypted here; open() still authenticates it later.
        if sealed.kek_version == self.primary_version:
            return sealed
        return self._wrap(self._unwrap(sealed, binding), binding, sealed.nonce, sealed.ciphertext)

    def _wrap(self, dek: bytes, binding: SecretBinding, nonce: bytes, ct: bytes) -> SealedSecret:
        """Wrap the DEK with the primary KEK under a fresh nonce and assemble the record."""
        # The wrap AAD also names the KEK version, so relabelling a record's version fails.
        version, wrap_nonce = self.primary_version, os.urandom(NONCE_BYTES)
        wrapped = self._keks[version].encrypt(wrap_nonce, dek, _aad(_WRAP_LABEL, binding, version))
        return SealedSecret(
            kek_version=version,
            wrapped_key=wrapped,
            wrap_nonce=wrap_nonce,
            nonce=nonce,
            ciphertext=ct,
        )

    def _unwrap(self, sealed: SealedSecret, binding: SecretBinding) -> bytes:
        """Return the DEK after checking sizes and authenticating binding and KEK version."""
        version = sealed.kek_version
        kek = self._keks.get(version) if isinstance(version, str) else None
        if kek is None:  # only well-formed versions are echoed; a stored label may be junk
            shown = repr(version) if _VERSION_RE.fullmatch(str(version)) else "<malformed>"
            raise UnknownKeyVersionError(f"kek version {shown} is not in the keyring (retired?)")
        sizes = (len(sealed.wrap_nonce), len(sealed.wrapped_key), len(sealed.nonce))
        if sizes != (NONCE_BYTES, KEY_BYTES + 16, NONCE_BYTES) or len(sealed.ciphertext) < 16:
            raise DecryptionError("sealed secret is malformed (nonce, key or ciphertext size)")
        aad = _aad(_WRAP_LABEL, binding, version)
        try:
            return kek.decrypt(sealed.wrap_nonce, sealed.wrapped_key, aad)
        except InvalidTag:
            raise DecryptionError(
                f"data key failed authentication under kek version {version!r} (binding/tamper)"
            ) from None

    def describe(self) -> str:
        """Log-safe summary: versions only, never key material."""
        return f"keyring primary={self.primary_version} versions={','.join(self._versions)}"

    def __repr__(self) -> str:
        """Log-safe repr: versions only, never key material."""
        return f"Keyring(primary={self.primary_version!r}, versions={self._versions!r})"
