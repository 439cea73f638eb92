"""Verifies providers' webhook signatures before any extension code runs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

CONNECTOR_ONLY_SCHEMES: frozenset[str] = frozenset(
    {"stripe_signature", "standard_webhooks", "shopify_hmac", "github_sha256", "slack_v0"}
)
SCHEMES: frozenset[str] = CONNECTOR_ONLY_SCHEMES | {"api_key", "public"}

_Headers = Mapping[str, str]
# ASCII digits only and bounded: int() alone would accept "+1", "1_0", " 1", Arabic-Indic digits,
# and raise ValueError past Python's 4300-digit int limit.
_TIMESTAMP = re.compile(r"[0-9]{1,15}")
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


class SignatureError(Exception):
    """Verification failed; `reason` is a short machine-readable code recorded with the delivery."""

    reason: str

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Verified:
    """A request that authenticated: its scheme and the timestamp its signature covers (if any)."""

    scheme: str
    signed_at: int | None = None


def verify(
    scheme: str,
    *,
    body: bytes,
    headers: Mapping[str, str],
    secrets: Sequence[str],
    now: float | None = None,
    tolerance_s: int = 300,
) -> Verified:
    """What authenticated the request under `scheme`; else SignatureError naming the reason."""
    if scheme == "public":
        return Verified(scheme)
    verifier = _VERIFIERS.get(scheme)
    if verifier is None:
        raise SignatureError("unknown_scheme")
    keys = _usable_secrets(secrets)
    try:
        signed_at = verifier(body, headers, keys, time.time() if now is None else now, tolerance_s)
        return Verified(scheme, int(signed_at) if signed_at is not None else None)
    except SignatureError:
        raise
    except (ValueError, TypeError, UnicodeError) as exc:
        # Belt and braces: every parser below already maps bad input to a reason, but a decoding
        # error that slipped through must still be a rejection, never a 500.
        raise SignatureError("malformed_header") from exc


# Signing helpers, for tests, benchmarks and provider simulators.
def sign_stripe(body: bytes, secret: str, timestamp: int) -> str:
    """Return a `stripe-signature` header value for `body` signed at `timestamp`."""
    return f"t={timestamp},v1={_mac(secret.encode(), f'{timestamp}.'.encode() + body).hex()}"


def sign_standard_webhooks(msg_id: str, timestamp: int, body: bytes, secret: str) -> str:
    """Return a `webhook-signature` value: `v1a,...` for a `whsk_` key, else `v1,...`."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    if secret.startswith("whsk_"):
        seed = _b64(secret.removeprefix("whsk_"))[:32]
        sig = Ed25519PrivateKey.from_private_bytes(seed).sign(content)
        return "v1a," + base64.b64encode(sig).decode()
    mac = _mac(_b64(secret.removeprefix("whsec_")), content)
    return "v1," + base64.b64encode(mac).decode()


def sign_github(body: bytes, secret: str) -> str:
    """Return an `x-hub-signature-256` header value for `body`."""
    return "sha256=" + _mac(secret.encode(), body).hex()


def sign_shopify(body: bytes, secret: str) -> str:
    """Return an `x-shopify-hmac-sha256` header value for `body`."""
    return base64.b64encode(_mac(secret.encode(), body)).decode()


def sign_slack(body: bytes, secret: str, timestamp: int) -> str:
    """Return an `x-slack-signature` header value for `body` sent at `timestamp`."""
    return "v0=" + _mac(secret.encode(), f"v0:{timestamp}:".encode() + body).hex()


def _stripe(body: bytes, headers: _Headers, keys: list[str], now: float, tol: int) -> str | None:
    fields: dict[str, list[str]] = {}
    for part in _header(headers, "stripe-signature").split(","):
        name, sep, value = part.strip().partition("=")
        if not sep or not name:
            raise SignatureError("malformed_header")
        fields.setdefault(name, []).append(value.strip())
    # Exactly one t: with two, which one the signature covers would be ambiguous.
    if len(fields.get("t", [])) != 1:
        raise SignatureError("malformed_header")
    ts = _timestamp(fields["t"][0], now, tol)
    candidates = [_hex(v) for v in fields.get("v1", [])]  # v0 and unknown schemes are ignored
    signed = ts.encode() + b"." + body
    _require_match(candidates, [_mac(k.encode(), signed) for k in keys])
    return ts


def _standard(body: bytes, headers: _Headers, keys: list[str], now: float, tol: int) -> str | None:
    # The svix-* names are the same protocol under its original brand; webhook-* wins if both.
    msg_id = _header(headers, "webhook-id", "svix-id")
    raw_ts = _header(headers, "webhook-timestamp", "svix-timestamp")
    raw_sigs = _header(headers, "webhook-signature", "svix-signature")
    sigs: dict[str, list[bytes]] = {"v1": [], "v1a": []}
    for entry in raw_sigs.split():
        version, sep, value = entry.partition(",")
        if not sep:
            raise SignatureError("malformed_header")
        if version in sigs:  # other versions are skipped so senders can add schemes alongside v1
            sigs[version].append(_b64(value, "malformed_header", canonical=True))
    if len(sigs["v1a"]) > 8:  # each costs an Ed25519 verify per key: bound the work
        raise SignatureError("malformed_header")
    ts = _timestamp(raw_ts, now, tol)
    content = _utf8(msg_id) + b"." + ts.encode() + b"." + body
    macs, public_keys = _standard_keys(keys)
    signed_ok = [_ed25519_ok(pk, sig, content) for sig in sigs["v1a"] for pk in public_keys]
    _require_match(sigs["v1"], [_mac(k, content) for k in macs], any(signed_ok))
    return ts


def _shopify(body: bytes, headers: _Headers, keys: list[str], now: float, tol: int) -> str | None:
    candidate = _b64(_header(headers, "x-shopify-hmac-sha256"), "malformed_header", canonical=True)
    _require_match([candidate], [_mac(k.encode(), body) for k in keys])
    return None


def _github(body: bytes, headers: _Headers, keys: list[str], now: float, tol: int) -> str | None:
    candidate = _hex(_header(headers, "x-hub-signature-256"), "sha256=")
    _require_match([candidate], [_mac(k.encode(), body) for k in keys])
    return None


def _slack(body: bytes, headers: _Headers, keys: list[str], now: float, tol: int) -> str | None:
    candidate = _hex(_header(headers, "x-slack-signature"), "v0=")
    ts = _timestamp(_header(headers, "x-slack-request-timestamp"), now, tol)
    signed = b"v0:" + ts.encode() + b":" + body
    _require_match([candidate], [_mac(k.encode(), signed) for k in keys])
    return ts


def _api_key(body: bytes, headers: _Headers, keys: list[str], now: float, tol: int) -> str | None:
    presented: list[str] = []
    auth = headers.get("authorization")
    if auth is not None:
        auth_scheme, _, token = auth.strip().partition(" ")
        if auth_scheme.lower() == "bearer" and token.strip():  # auth schemes are case-insensitive
            presented.append(token.strip())
    if x_api_key := (headers.get("x-api-key") or "").strip():
        presented.append(x_api_key)
    if not presented:
        raise SignatureError("missing_header" if auth is None else "malformed_header")
    _require_match([_utf8(p) for p in presented], [k.encode() for k in keys])
    return None


_VERIFIERS: dict[str, Callable[[bytes, _Headers, list[str], float, int], str | None]] = {
    "stripe_signature": _stripe,
    "standard_webhooks": _standard,
    "shopify_hmac": _shopify,
    "github_sha256": _github,
    "slack_v0": _slack,
    "api_key": _api_key,
}


def _usable_secrets(secrets: Sequence[str]) -> list[str]:
    # A bare str is a Sequence[str] too: iterating it would make every character a one-byte key,
    # which anyone could brute-force. Empty secrets are refused for the same reason.
    keys = [] if isinstance(secrets, str | bytes) else [s for s in secrets if isinstance(s, str)]
    keys = [k for k in keys if k]
    if not keys:
        raise SignatureError("invalid_secret")
    return keys


def _standard_keys(keys: list[str]) -> tuple[list[bytes], list[Ed25519PublicKey]]:
    macs: list[bytes] = []
    public_keys: list[Ed25519PublicKey] = []
    for key in keys:
        try:
            if key.startswith("whpk_"):
                public_keys.append(Ed25519PublicKey.from_public_bytes(_b64(key[5:])))
            elif key.startswith("whsk_"):
                raw = _b64(key[5:])  # the 32-byte seed, or seed + public key
                pk = Ed25519PrivateKey.from_private_bytes(raw[:32]).public_key()
                # A 64-byte key carries its public half; a mismatch means a corrupted secret.
                if len(raw) == 32 or (len(raw) == 64 and pk.public_bytes_raw() == raw[32:]):
                    public_keys.append(pk)
            else:
                # Like the reference libraries, the whsec_ prefix is optional.
                macs.append(_b64(key.removeprefix("whsec_")))
        except (SignatureError, ValueError):
            continue  # one bad secret must not block the other during a rotation
    if not macs and not public_keys:
        raise SignatureError("invalid_secret")
    return macs, public_keys


def _header(headers: _Headers, name: str, alias: str | None = None) -> str:
    value = headers.get(name)
    if value is None and alias is not None:
        value = headers.get(alias)
    if value is None:
        raise SignatureError("missing_header")
    if not isinstance(value, str) or not value.strip():
        raise SignatureError("malformed_header")
    return value.strip()


def _timestamp(raw: str, now: float, tolerance_s: int) -> str:
    # Returns the raw string: the signature covers the bytes that were sent, not a re-rendering.
    if not _TIMESTAMP.fullmatch(raw):
        raise SignatureError("malformed_header")
    if now - int(raw) > tolerance_s:
        raise SignatureError("timestamp_too_old")
    if int(raw) - now > tolerance_s:
        raise SignatureError("timestamp_in_future")
    return raw


def _hex(value: str, prefix: str = "") -> bytes:
    digits = value.removeprefix(prefix)
    if not value.startswith(prefix) or not _HEX64.fullmatch(digits):
        raise SignatureError("malformed_header")
    return bytes.fromhex(digits)


def _b64(value: str, reason: str = "invalid_secret", canonical: bool = False) -> bytes:
    try:
        # validate=True: the default silently drops non-alphabet characters.
        raw = base64.b64decode(value.encode("ascii"), validate=True)
    except ValueError as exc:  # binascii.Error and UnicodeEncodeError are both ValueErrors
        raise SignatureError(reason) from exc
    # Signatures must be spelled canonically: b64decode ignores the unused low bits of the last
    # character, which would otherwise let one signature be written several ways.
    if canonical and base64.b64encode(raw).decode() != value:
        raise SignatureError(reason)
    return raw


def _utf8(value: str) -> bytes:
    try:
        return value.encode()
    except UnicodeEncodeError as exc:  # lone surrogates can't come off the wire as bytes
        raise SignatureError("malformed_header") from exc


def _mac(key: bytes, msg: bytes) -> bytes:
    return hmac.new(key, msg, hashlib.sha256).digest()


def _ed25519_ok(public_key: Ed25519PublicKey, signature: bytes, content: bytes) -> bool:
    try:
        public_key.verify(signature, content)
    except InvalidSignature:
        return False
    return True


def _require_match(candidates: list[bytes], expected: list[bytes], matched: bool = False) -> None:
    # Compare every pair without short-circuiting so timing doesn't reveal which one matched.
    for candidate in candidates:
        for want in expected:
            matched |= hmac.compare_digest(candidate, want)
    if not matched:
        raise SignatureError("no_matching_signature")
