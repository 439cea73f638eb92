"""Identifiers: prefixed, random, URL-safe; unguessable where they grant access."""

from __future__ import annotations

import base64
import secrets

# Crockford-like lower-case alphabet: no padding, safe in URLs and keys.
_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
# RFC 4648 base32 symbols → ours, position for position (each stands for the same 5 bits).
_FROM_BASE32 = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", _ALPHABET.encode())


def new_id(prefix: str, random_bits: int = 80) -> str:
    """`prefix_` followed by `random_bits` of randomness (base32), from one CSPRNG draw."""
    chars = (random_bits + 4) // 5
    drawn = secrets.token_bytes((chars * 5 + 7) // 8)  # every kept symbol is 5 fresh bits
    return f"{prefix}_" + base64.b32encode(drawn)[:chars].translate(_FROM_BASE32).decode()
