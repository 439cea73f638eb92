"""Standard Webhooks signing: the platform is the sender of alerts.

`webhook-signature` carries one `v1,<base64 HMAC-SHA256>` per valid secret, space
separated, over `{webhook-id}.{webhook-timestamp}.{body}`; during a rotation both the new
and the old secret sign, so a receiver that has either verifies.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence

SECRET_PREFIX = "whsec_"


def new_signing_secret() -> str:
    """A fresh secret in the usual `whsec_<base64 of 24 random bytes>` form."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def signature_header(msg_id: str, timestamp: int, body: bytes, keys: Sequence[str]) -> str:
    """The `webhook-signature` value for `body`, one entry per key."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    entries = []
    for key in keys:
        raw = base64.b64decode(key.removeprefix(SECRET_PREFIX))
        mac = hmac.new(raw, content, hashlib.sha256).digest()
        entries.append("v1," + base64.b64encode(mac).decode())
    return " ".join(entries)


def signed_headers(msg_id: str, timestamp: int, body: bytes, keys: Sequence[str]) -> dict[str, str]:
    """The three Standard Webhooks headers plus the content type."""
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(msg_id, timestamp, body, keys),
    }
