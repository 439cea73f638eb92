"""API keys of extension API routes: where they live in Valkey and how a route call resolves one.

The registry is the only writer; ingress reads. Only the SHA-256 of a key is stored, like
the API tokens' `token:*` records (services/base/auth.py). Every key of an installation
shares the installation's hash tag (`services.base.keys.installation_key`), so one
transaction writes them on a Valkey Cluster too. A revoked key's record is deleted: the
next call is 401 on every ingress replica; a rotated key's old record keeps working until
its overlap expires (a Redis TTL), then it is gone.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Any

import msgspec

from contracts.routes import API_KEY_PREFIX, ApiKey
from services.base.auth import token_digest
from services.base.dedupe.tick import TickPipeline, checked
from services.base.keys import installation_key

log = logging.getLogger(__name__)
PREFIX_SHOWN = 12  # characters of a key listed to recognise it (`bfk_` + 8)


def new_api_key() -> str:
    """A fresh key: 256 random bits, prefixed so secret scanners can find leaked ones."""
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def api_key_record_key(installation_id: str, digest: str) -> str:
    """The key that makes a key work: its digest → the `ApiKey`."""
    return installation_key(installation_id, "apikey", digest)


def api_keys_key(installation_id: str) -> str:
    """Hash key_id → `ApiKey` as listed (revoked ones stay, marked)."""
    return installation_key(installation_id, "apikeys")


def api_key_digests_key(installation_id: str) -> str:
    """Hash key_id → digest, to revoke or rotate a key by id."""
    return installation_key(installation_id, "apikey-digests")


def api_keys_used_key(installation_id: str) -> str:
    """Hash key_id → when ingress last accepted the key (written after the call, best effort)."""
    return installation_key(installation_id, "apikey-used")


def record_use(tick: TickPipeline, key: ApiKey, at: float) -> asyncio.Future[list[Any]]:
    """Remember when `key` last opened a route (one HSET; the listing shows it), riding along
    with the next pipeline (nobody waits on it; a failure is an exception in the result)."""
    used, field, value = api_keys_used_key(key.installation_id), key.key_id, str(at)
    written = tick.run(lambda pipe: pipe.hset(used, field, value), defer=True)
    written.add_done_callback(_log_failed_use)
    return written


def _log_failed_use(done: asyncio.Future[list[Any]]) -> None:
    """A last-use write that did not land is logged (the listing shows an older time)."""
    if done.cancelled():
        return
    error = done.exception() or next((r for r in done.result() if isinstance(r, Exception)), None)
    if error is not None:
        log.warning("recording an API key's last use failed", extra={"error": repr(error)})


async def resolve_api_key(tick: TickPipeline, installation_id: str, secret: str) -> ApiKey | None:
    """The live key of this installation `secret` is, or None (unknown, revoked, expired).
    One GET on the service's tick pipeline (with concurrent callers' commands)."""
    if not secret.startswith(API_KEY_PREFIX):
        return None
    record = api_key_record_key(installation_id, token_digest(secret))
    (raw,) = checked(await tick.run(lambda pipe: pipe.get(record)))
    if not raw:
        return None
    key = msgspec.json.decode(raw, type=ApiKey)
    # The record is keyed by installation, but check anyway: a key opens one installation only.
    return key if key.installation_id == installation_id else None
