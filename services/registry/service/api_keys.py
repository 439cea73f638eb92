"""API keys of an installation's `api_key` routes: create, list by prefix, rotate, revoke.

Admins only, each change audited. The plaintext is returned once (create and rotate) and
only its SHA-256 is stored (services/base/api_keys.py). The key records are written in one
transaction on the installation's hash tag first, then the audit event in the workspace's
transaction: a crash in between leaves a working key without its audit line, never an
audited key that does not exist. Revoking deletes the record first (the key stops at once).
"""

from __future__ import annotations

import time

import msgspec
from redis.asyncio import Redis

from contracts.ids import new_id
from contracts.routes import ApiKey, ApiKeyIssued
from services.base.api_keys import (
    PREFIX_SHOWN,
    api_key_digests_key,
    api_key_record_key,
    api_keys_key,
    api_keys_used_key,
    new_api_key,
)
from services.base.auth import Principal, token_digest
from services.base.errors import Conflict, NotFound
from services.registry.outbox import OutboxRelay
from services.registry.service.workspaces import record_audit
from services.registry.store import RegistryStore

MAX_OVERLAP_S = 7 * 86400


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


class ApiKeyService:
    """Keys per installation of the caller's workspace."""

    def __init__(self, store: RegistryStore, relay: OutboxRelay) -> None:
        self.store = store
        self.relay = relay
        self.redis: Redis = store.redis

    async def list_keys(self, caller: Principal, installation_id: str) -> list[ApiKey]:
        """Every key of the installation (revoked ones marked), oldest first; never a secret."""
        await self._installation(caller, installation_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hvals(api_keys_key(installation_id))
            pipe.hgetall(api_keys_used_key(installation_id))
            raw, used = await pipe.execute()
        last = {_text(k): float(v) for k, v in used.items()}
        keys = [msgspec.json.decode(r, type=ApiKey) for r in raw]
        keys = [msgspec.structs.replace(k, last_used_at=last.get(k.key_id)) for k in keys]
        return sorted(keys, key=lambda k: k.created_at)

    async def create(self, caller: Principal, installation_id: str, name: str) -> ApiKeyIssued:
        """A new key; its plaintext is in this answer only."""
        await self._installation(caller, installation_id)
        issued = await self._issue(caller, installation_id, name, rotated_from=None)
        await self._audit(caller, "ApiKeyCreated", issued.key)
        return issued

    async def rotate(
        self, caller: Principal, installation_id: str, key_id: str, overlap_s: int
    ) -> ApiKeyIssued:
        """A new key replacing `key_id`; the old one works `overlap_s` more seconds (0: none)."""
        await self._installation(caller, installation_id)
        old, digest = await self._key(installation_id, key_id)
        if old.revoked_at is not None:  # a successor would revive a key that ends (or ended)
            state = "revoked" if old.revoked_at <= time.time() else "already rotated"
            raise Conflict(f"API key {key_id!r} is {state}: create a new key", field="key_id")
        overlap = max(0, min(overlap_s, MAX_OVERLAP_S))
        issued = await self._issue(caller, installation_id, old.name, rotated_from=old.key_id)
        ended = msgspec.structs.replace(old, revoked_at=time.time() + overlap)
        async with self.redis.pipeline(transaction=True) as pipe:
            if overlap:
                pipe.expire(api_key_record_key(installation_id, digest), overlap)
            else:
                pipe.delete(api_key_record_key(installation_id, digest))
            pipe.hset(api_keys_key(installation_id), key_id, msgspec.json.encode(ended))
            await pipe.execute()
        await self._audit(caller, "ApiKeyRotated", issued.key, replaced=key_id, overlap_s=overlap)
        return issued

    async def revoke(self, caller: Principal, installation_id: str, key_id: str) -> ApiKey:
        """Stop a key at once (idempotent)."""
        await self._installation(caller, installation_id)
        key, digest = await self._key(installation_id, key_id)
        if key.revoked_at is not None and key.revoked_at <= time.time():
            return key
        revoked = msgspec.structs.replace(key, revoked_at=time.time())
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(api_key_record_key(installation_id, digest))
            pipe.hset(api_keys_key(installation_id), key_id, msgspec.json.encode(revoked))
            await pipe.execute()
        await self._audit(caller, "ApiKeyRevoked", revoked)
        return revoked

    async def _issue(
        self, caller: Principal, installation_id: str, name: str, rotated_from: str | None
    ) -> ApiKeyIssued:
        secret = new_api_key()
        key = ApiKey(
            key_id=new_id("key"),
            installation_id=installation_id,
            name=name,
            prefix=secret[:PREFIX_SHOWN],
            created_at=time.time(),
            created_by=caller.member_id,
            rotated_from=rotated_from,
        )
        digest = token_digest(secret)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(api_key_record_key(installation_id, digest), msgspec.json.encode(key))
            pipe.hset(api_keys_key(installation_id), key.key_id, msgspec.json.encode(key))
            pipe.hset(api_key_digests_key(installation_id), key.key_id, digest)
            await pipe.execute()
        return ApiKeyIssued(key=key, secret=secret)

    async def _installation(self, caller: Principal, installation_id: str) -> None:
        caller.require_admin()
        if await self.store.installation(caller.workspace_id, installation_id) is None:
            raise NotFound(f"installation {installation_id!r} not found", field="installation_id")

    async def _key(self, installation_id: str, key_id: str) -> tuple[ApiKey, str]:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hget(api_keys_key(installation_id), key_id)
            pipe.hget(api_key_digests_key(installation_id), key_id)
            raw, digest = await pipe.execute()
        if not raw or not digest:
            raise NotFound(f"API key {key_id!r} not found", field="key_id")
        return msgspec.json.decode(raw, type=ApiKey), _text(digest)

    async def _audit(self, caller: Principal, action: str, key: ApiKey, **details: object) -> None:
        def build(pipe):  # type: ignore[no-untyped-def]
            record_audit(
                pipe,
                caller.workspace_id,
                caller.member_id,
                action,
                key.key_id,
                installation_id=key.installation_id,
                name=key.name,
                prefix=key.prefix,
                **details,
            )

        await self.store.transaction(build)
        self.relay.notify()
