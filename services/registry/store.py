"""Registry state in Redis. Every change is one MULTI that also appends its outbox messages.

Keys of a workspace share the hash tag `{w:<id>}`, so one transaction can change several of
them (and append to the workspace's outbox) on a Redis Cluster too. Installation and version
changes are optimistic: they WATCH the workspace clock, decide on what they read, and commit
only if no other change of the workspace committed in between (otherwise they decide again).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import msgspec
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import WatchError

from contracts.installations import VersionRef
from services.base.auth import Principal, token_key
from services.base.errors import Unavailable
from services.base.keys import workspace_key
from services.registry.schemas import Member, TokenInfo, Workspace
from services.registry.stored import ExtensionState, OAuthPending, StoredInstallation

T = TypeVar("T")
Build = Callable[[Pipeline], None]

# A bundle no version references yet (its deploy is being checked) expires after this.
UNREFERENCED_BUNDLE_TTL_S = 3600


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


wkey = workspace_key  # a key in the workspace's hash slot: `{w:ID}:part:part`


WORKSPACE_SLUGS = "workspaces:by-slug"
FIRST_PARTY_KEYS = "catalog:first-party:keys"


def first_party_key(key: str) -> str:
    """Hash of the first-party versions of `key` (global: available to every workspace)."""
    return f"catalog:first-party:{key}"


def oauth_state_key(state: str) -> str:
    """A pending OAuth authorization, found by its `state` on the callback."""
    return f"oauth:state:{state}"


class RegistryStore:
    """Reads and atomic writes of registry state."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def transaction(self, build: Build) -> None:
        """Run `build(pipe)` inside MULTI/EXEC: all of it commits or none of it does."""
        async with self.redis.pipeline(transaction=True) as pipe:
            build(pipe)
            await pipe.execute()

    async def guarded(
        self, workspace_id: str, decide: Callable[[], Awaitable[tuple[Build, T]]]
    ) -> T:
        """Decide on fresh reads, then commit in one MULTI unless the workspace changed meanwhile.

        `decide` may raise (a refusal): nothing is written then.
        """
        clock = wkey(workspace_id, "clock")
        for _ in range(50):
            async with self.redis.pipeline(transaction=True) as pipe:
                await pipe.watch(clock)
                build, result = await decide()
                pipe.multi()
                pipe.incr(clock)
                build(pipe)
                try:
                    await pipe.execute()
                except WatchError:
                    continue
                return result
        raise Unavailable("too many concurrent changes to this workspace; retry")

    async def _get(self, key: str, kind: type[T]) -> T | None:
        raw = await self.redis.get(key)
        return msgspec.json.decode(raw, type=kind) if raw else None

    # Workspaces, members, tokens

    async def workspace_id_by_slug(self, slug: str) -> str | None:
        raw = await self.redis.hget(WORKSPACE_SLUGS, slug)
        return _text(raw) if raw else None

    async def workspace_ids(self) -> list[str]:
        return sorted(_text(v) for v in await self.redis.hvals(WORKSPACE_SLUGS))

    async def workspace(self, workspace_id: str) -> Workspace | None:
        return await self._get(wkey(workspace_id, "workspace"), Workspace)

    async def members(self, workspace_id: str) -> list[Member]:
        raw = await self.redis.hvals(wkey(workspace_id, "members"))
        return sorted(
            (msgspec.json.decode(r, type=Member) for r in raw), key=lambda m: m.created_at
        )

    async def member(self, workspace_id: str, member_id: str) -> Member | None:
        raw = await self.redis.hget(wkey(workspace_id, "members"), member_id)
        return msgspec.json.decode(raw, type=Member) if raw else None

    async def tokens(self, workspace_id: str) -> list[TokenInfo]:
        raw = await self.redis.hvals(wkey(workspace_id, "tokens"))
        return sorted(
            (msgspec.json.decode(r, type=TokenInfo) for r in raw), key=lambda t: t.created_at
        )

    async def token(self, workspace_id: str, token_id: str) -> tuple[TokenInfo, str] | None:
        """A token's metadata and the digest its principal record is stored under."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hget(wkey(workspace_id, "tokens"), token_id)
            pipe.hget(wkey(workspace_id, "token-digests"), token_id)
            info, digest = await pipe.execute()
        if not info or not digest:
            return None
        return msgspec.json.decode(info, type=TokenInfo), _text(digest)

    async def claim_slug(self, slug: str, workspace_id: str) -> bool:
        """Reserve `slug` for `workspace_id` (one HSETNX: of two replicas racing, one wins).

        The slug index is global, so it is written on its own, before the workspace's
        transaction (never inside it: on a Cluster that would be CROSSSLOT).
        """
        return bool(await self.redis.hsetnx(WORKSPACE_SLUGS, slug, workspace_id))

    async def release_slug(self, slug: str, workspace_id: str) -> None:
        """Give a reserved slug back after the workspace's transaction failed."""
        if await self.workspace_id_by_slug(slug) == workspace_id:
            await self.redis.hdel(WORKSPACE_SLUGS, slug)

    @staticmethod
    def put_workspace(pipe: Pipeline, workspace: Workspace) -> None:
        pipe.set(wkey(workspace.id, "workspace"), msgspec.json.encode(workspace))

    @staticmethod
    def put_member(pipe: Pipeline, workspace_id: str, member: Member) -> None:
        pipe.hset(wkey(workspace_id, "members"), member.id, msgspec.json.encode(member))

    async def put_principal(self, digest: str, principal: Principal) -> None:
        """A token's principal record (global key `token:<digest>`, its own command).

        Written before the workspace transaction that records the token's metadata: an orphan
        principal left by a failed transaction belongs to a token nobody was ever shown.
        """
        await self.redis.set(token_key(digest), msgspec.json.encode(principal))

    async def drop_principal(self, digest: str) -> None:
        """The token stops working at once in every service (before its metadata is marked)."""
        await self.redis.delete(token_key(digest))

    @staticmethod
    def put_token(pipe: Pipeline, digest: str, principal: Principal, info: TokenInfo) -> None:
        pipe.hset(wkey(principal.workspace_id, "tokens"), info.id, msgspec.json.encode(info))
        pipe.hset(wkey(principal.workspace_id, "token-digests"), info.id, digest)

    @staticmethod
    def revoke_token(pipe: Pipeline, workspace_id: str, info: TokenInfo, digest: str) -> None:
        # The principal record went first (`drop_principal`); the metadata stays, marked
        # revoked, so the list still explains what happened.
        revoked = msgspec.structs.replace(info, status="revoked")
        pipe.hset(wkey(workspace_id, "tokens"), info.id, msgspec.json.encode(revoked))

    # Versions and bundles

    async def put_bundle(self, key: str, archive: bytes) -> None:
        """Content-addressed, written before its checks with a TTL (a refused deploy's bundle
        expires); `keep_bundle` makes it permanent before a version references it."""
        await self.redis.set(key, archive, nx=True, ex=UNREFERENCED_BUNDLE_TTL_S)

    async def keep_bundle(self, key: str) -> None:
        """No expiry: a version is about to reference it (never deleted after that)."""
        await self.redis.persist(key)

    async def first_party_keys(self) -> list[str]:
        return sorted(_text(k) for k in await self.redis.smembers(FIRST_PARTY_KEYS))

    async def first_party_versions(self, key: str) -> list[VersionRef]:
        raw = await self.redis.hvals(first_party_key(key))
        return sorted(
            (msgspec.json.decode(r, type=VersionRef) for r in raw), key=lambda v: v.deployed_at
        )

    async def put_first_party_version(self, version: VersionRef) -> bool:
        """Register a first-party version once; False when that version already exists.

        Two global keys, two commands (one slot each on a Cluster): the version first, then the
        index, which is added every time, so a crash in between heals at the next deploy.
        """
        key = version.manifest.key
        encoded = msgspec.json.encode(version)
        created = await self.redis.hsetnx(first_party_key(key), version.version_id, encoded)
        await self.redis.sadd(FIRST_PARTY_KEYS, key)
        return bool(created)

    async def private_keys(self, workspace_id: str) -> list[str]:
        return sorted(_text(k) for k in await self.redis.smembers(wkey(workspace_id, "keys")))

    async def private_versions(self, workspace_id: str, key: str) -> list[VersionRef]:
        raw = await self.redis.hvals(wkey(workspace_id, "versions", key))
        return sorted(
            (msgspec.json.decode(r, type=VersionRef) for r in raw), key=lambda v: v.deployed_at
        )

    @staticmethod
    def put_private_version(pipe: Pipeline, workspace_id: str, version: VersionRef) -> None:
        key = version.manifest.key
        pipe.hsetnx(
            wkey(workspace_id, "versions", key), version.version_id, msgspec.json.encode(version)
        )
        pipe.sadd(wkey(workspace_id, "keys"), key)

    async def extension_state(self, workspace_id: str, key: str) -> ExtensionState:
        raw = await self.redis.hget(wkey(workspace_id, "extensions"), key)
        return msgspec.json.decode(raw, type=ExtensionState) if raw else ExtensionState(key=key)

    @staticmethod
    def put_extension_state(pipe: Pipeline, workspace_id: str, state: ExtensionState) -> None:
        pipe.hset(wkey(workspace_id, "extensions"), state.key, msgspec.json.encode(state))

    # Installations

    async def installation(
        self, workspace_id: str, installation_id: str
    ) -> StoredInstallation | None:
        return await self._get(wkey(workspace_id, "inst", installation_id), StoredInstallation)

    async def installations(self, workspace_id: str) -> list[StoredInstallation]:
        ids = sorted(_text(i) for i in await self.redis.smembers(wkey(workspace_id, "insts")))
        if not ids:
            return []
        raw = await self.redis.mget([wkey(workspace_id, "inst", i) for i in ids])
        records = [msgspec.json.decode(r, type=StoredInstallation) for r in raw if r]
        return sorted(records, key=lambda r: r.created_at)

    @staticmethod
    def put_installation(pipe: Pipeline, record: StoredInstallation) -> None:
        snap = record.snapshot
        pipe.set(wkey(snap.workspace_id, "inst", snap.installation_id), msgspec.json.encode(record))
        pipe.sadd(wkey(snap.workspace_id, "insts"), snap.installation_id)

    async def protected_entities(self, workspace_id: str) -> list[str]:
        raw = await self.redis.smembers(wkey(workspace_id, "protected-entities"))
        return sorted(_text(e) for e in raw)

    @staticmethod
    def set_protected_entities(pipe: Pipeline, workspace_id: str, entities: list[str]) -> None:
        key = wkey(workspace_id, "protected-entities")
        pipe.delete(key)
        if entities:
            pipe.sadd(key, *entities)

    # OAuth

    async def put_oauth_pending(self, state: str, pending: OAuthPending, ttl_s: int) -> None:
        await self.redis.set(oauth_state_key(state), msgspec.json.encode(pending), ex=ttl_s)

    async def take_oauth_pending(self, state: str) -> OAuthPending | None:
        """Single use: a state is consumed by the first callback that presents it."""
        raw = await self.redis.getdel(oauth_state_key(state))
        return msgspec.json.decode(raw, type=OAuthPending) if raw else None
