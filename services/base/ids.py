"""Identifiers: prefixed, random, URL-safe; unguessable where they grant access."""

from __future__ import annotations

import secrets

# Crockford-like lower-case alphabet: no padding, safe in URLs and keys.
_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def new_id(prefix: str, random_bits: int = 80) -> str:
    """`prefix_` followed by `random_bits` of randomness (base32)."""
    chars = (random_bits + 4) // 5
    return f"{prefix}_" + "".join(secrets.choice(_ALPHABET) for _ in range(chars))
