"""OAuth access tokens for polling: refresh before expiry or on a 401, once across replicas.

A refresh runs under a Redis lock per connection, and the token is re-read *after* the lock
is taken: a replica that waited for the lock finds the token another one just refreshed and
uses it, so N replicas racing send exactly one refresh request. A refreshed token is kept in
Redis sealed (AES-GCM, bound to installation and revision; never plaintext) until the
registry's next snapshot carries it, and reported to the registry's internal endpoint.
`invalid_grant` marks the connection `needs_reauth` there; polling stops until a new connect.
An OAuth connector's code reads its current access token as the secret `access_token`.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import httpx
import msgspec
from redis.asyncio import Redis

from contracts.ids import new_id
from contracts.installations import InstallationSnapshot
from contracts.secrets import SealedSecret
from services.base.errors import ServiceError
from services.base.hosts import HostCheck
from services.base.secrets_crypto import Keyring, SecretBinding
from services.sync.store import tag

LOCK_S = 30.0


class NeedsReauth(RuntimeError):
    """The provider refused the refresh token (`invalid_grant`): an admin must reconnect."""


class RefreshFailed(RuntimeError):
    """The token endpoint could not be used this time; the run fails and backs off."""


class LocalTokens(msgspec.Struct, frozen=True, kw_only=True):
    """A refresh this service did that the registry's snapshot may not carry yet."""

    revision: int
    access_token: SealedSecret
    refresh_token: SealedSecret | None = None
    expires_at: float | None = None


@dataclass(frozen=True)
class Tokens:
    """Plaintext tokens in memory only, with the revision they belong to."""

    revision: int
    access: str | None
    refresh: str | None
    expires_at: float | None


class TokenSource:
    """The access token a run should use for an OAuth connector; refreshes it when due."""

    def __init__(
        self,
        *,
        redis: Redis,
        keyring: Keyring,
        registry_url: str,
        internal_token: str,
        margin_s: float,
        host_overrides: dict[str, str],
        hosts: HostCheck | None = None,
        timeout_s: float = 15.0,
    ) -> None:
        self.redis = redis
        self.keyring = keyring
        self.registry_url = registry_url.rstrip("/")
        self.internal_token = internal_token
        self.margin_s = margin_s
        self.overrides = host_overrides
        self.hosts = hosts or HostCheck()
        self.http = httpx.AsyncClient(timeout=timeout_s, follow_redirects=False)
        self._release = redis.register_script(
            "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end"
            " return 0"
        )

    @staticmethod
    def uses_oauth(snapshot: InstallationSnapshot) -> bool:
        """A connector with an `oauth` block and a connected connection."""
        manifest = snapshot.active.manifest if snapshot.active else None
        return bool(manifest and manifest.oauth and snapshot.oauth)

    async def access_token(
        self, snapshot: InstallationSnapshot, *, stale: str | None = None
    ) -> str | None:
        """The current token; refreshed first when it expires within the margin or is `stale`."""
        if not self.uses_oauth(snapshot):
            return None
        current = await self._current(snapshot)
        if current.access and current.access != stale and not self._expiring(current):
            return current.access
        return await self._refresh(snapshot, stale or current.access)

    def _expiring(self, tokens: Tokens) -> bool:
        return tokens.expires_at is not None and tokens.expires_at - time.time() < self.margin_s

    async def _current(self, snapshot: InstallationSnapshot) -> Tokens:
        assert snapshot.oauth is not None
        oauth = snapshot.oauth
        raw = await self.redis.get(self._local_key(snapshot))
        if raw is not None:
            local = msgspec.json.decode(raw, type=LocalTokens)
            if local.revision > oauth.token_revision:
                return Tokens(
                    revision=local.revision,
                    access=self._open(
                        snapshot, "sync.oauth.access_token", local.revision, local.access_token
                    ),
                    refresh=self._open(
                        snapshot, "sync.oauth.refresh_token", local.revision, local.refresh_token
                    )
                    if local.refresh_token
                    else None,
                    expires_at=local.expires_at,
                )
        return Tokens(
            revision=oauth.token_revision,
            access=self._open_any(snapshot, "oauth.access_token", oauth.access_token),
            refresh=self._open_any(snapshot, "oauth.refresh_token", oauth.refresh_token),
            expires_at=oauth.expires_at,
        )

    def _open(self, snap: InstallationSnapshot, name: str, revision: int, sealed: Any) -> str:
        binding = SecretBinding(
            workspace_id=snap.workspace_id,
            installation_id=snap.installation_id,
            name=name,
            revision=revision,
        )
        return self.keyring.open(sealed, binding).decode()

    def _open_any(self, snap: InstallationSnapshot, name: str, sealed: Any) -> str | None:
        """Open a registry-sealed token; a kept refresh token carries an older revision."""
        if sealed is None or snap.oauth is None:
            return None
        for revision in range(snap.oauth.token_revision, 0, -1):
            try:
                return self._open(snap, name, revision, sealed)
            except Exception:
                continue
        return None

    @staticmethod
    def _local_key(snap: InstallationSnapshot) -> str:
        return f"{tag(snap.installation_id)}:sync:oauth"

    async def _refresh(self, snapshot: InstallationSnapshot, stale: str | None) -> str:
        lock = f"{tag(snapshot.installation_id)}:sync:oauth-lock"
        holder = new_id("lk")
        deadline = time.monotonic() + LOCK_S
        while not await self.redis.set(lock, holder, nx=True, px=int(LOCK_S * 1000)):
            if time.monotonic() > deadline:
                raise RefreshFailed("another replica holds the refresh lock")
            await asyncio.sleep(0.05)
        try:
            # Re-read under the lock: another replica may have refreshed while we waited.
            current = await self._current(snapshot)
            if current.access and current.access != stale and not self._expiring(current):
                return current.access
            return await self._exchange(snapshot, current)
        finally:
            await self._release(keys=[lock], args=[holder])

    async def _exchange(self, snapshot: InstallationSnapshot, current: Tokens) -> str:
        assert snapshot.active is not None and snapshot.active.manifest.oauth is not None
        oauth = snapshot.active.manifest.oauth
        if not current.refresh:
            await self._report(
                snapshot,
                {"status": "needs_reauth", "reason": "no refresh token"},
                current.revision,
            )
            raise NeedsReauth("the connection has no refresh token")
        form = {
            "grant_type": "refresh_token",
            "refresh_token": current.refresh,
            "client_id": str(snapshot.settings.get(oauth.client_id_setting, "")),
        }
        await self._refuse_token_url(oauth.token_url)  # before any secret leaves for it
        secret = snapshot.secrets.get(oauth.client_secret)
        if secret is not None:
            form["client_secret"] = self.keyring.open_secret(snapshot, secret)
        try:
            response = await self.http.post(
                self._route(oauth.token_url), data=form, headers={"accept": "application/json"}
            )
            body = response.json() if response.content else {}
        except (httpx.HTTPError, ValueError) as error:
            raise RefreshFailed(f"token endpoint unusable: {type(error).__name__}") from None
        if not isinstance(body, dict):
            body = {}
        if response.status_code in (400, 401) and body.get("error") == "invalid_grant":
            await self._report(
                snapshot, {"status": "needs_reauth", "reason": "invalid_grant"}, current.revision
            )
            raise NeedsReauth("the provider refused the refresh token (invalid_grant)")
        if response.status_code != 200 or not body.get("access_token"):
            raise RefreshFailed(f"token endpoint answered {response.status_code}")
        revision = current.revision + 1
        expires_in = body.get("expires_in")
        expires_at = time.time() + float(expires_in) if expires_in else None
        refresh = body.get("refresh_token") or current.refresh
        local = LocalTokens(
            revision=revision,
            access_token=self._seal(
                snapshot, "sync.oauth.access_token", revision, body["access_token"]
            ),
            refresh_token=self._seal(snapshot, "sync.oauth.refresh_token", revision, refresh),
            expires_at=expires_at,
        )
        await self.redis.set(self._local_key(snapshot), msgspec.json.encode(local), ex=86400)
        await self._report(
            snapshot,
            {
                "status": "connected",
                "access_token": body["access_token"],
                "refresh_token": body.get("refresh_token"),
                "expires_in": expires_in,
            },
            current.revision,
        )
        return str(body["access_token"])

    def _seal(
        self, snap: InstallationSnapshot, name: str, revision: int, value: str
    ) -> SealedSecret:
        binding = SecretBinding(
            workspace_id=snap.workspace_id,
            installation_id=snap.installation_id,
            name=name,
            revision=revision,
        )
        return self.keyring.seal(value.encode(), binding)

    async def _refuse_token_url(self, url: str) -> None:
        """RefreshFailed unless the manifest's tokenUrl passes the registry's connect-time
        rule (https, a public host): the snapshot may predate a tightened rule, and a refresh
        posts the refresh token and client secret there. A host the operator routes
        (`host_overrides`) is theirs."""
        try:
            if (httpx.URL(url).host or "").lower() in self.overrides:
                return
            await self.hosts.refuse_oauth_url(url, "oauth.tokenUrl")
        except ServiceError as refused:
            raise RefreshFailed(refused.message) from None
        except httpx.InvalidURL:
            raise RefreshFailed("oauth.tokenUrl: not a valid URL") from None

    def _route(self, url: str) -> str:
        parsed = httpx.URL(url)
        base = self.overrides.get((parsed.host or "").lower())
        if base is None:
            return url
        target = httpx.URL(base)
        return str(parsed.copy_with(scheme=target.scheme, host=target.host, port=target.port))

    async def _report(
        self, snapshot: InstallationSnapshot, body: dict[str, Any], revision: int
    ) -> None:
        """Tell the registry; a failed report is retried by the next refresh (best effort).

        `revision` is the token revision the tokens came from: the registry ignores a report
        about an older revision than its own (a reconnect since), so it never wins.
        """
        try:
            await self.http.post(
                f"{self.registry_url}/internal/installations/{snapshot.installation_id}/oauth",
                json={"workspace_id": snapshot.workspace_id, "token_revision": revision, **body},
                headers={"authorization": f"Bearer {self.internal_token}"},
            )
        except httpx.HTTPError:
            pass  # the sealed local copy keeps polling working; the registry hears next time

    async def close(self) -> None:
        """Release the HTTP pool."""
        await self.http.aclose()
