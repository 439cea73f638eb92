"""OAuth connections: the authorization-code flow with PKCE, and token reports from sync.

`state` is single use and expires; the code verifier never leaves the registry until the
token exchange. Tokens are sealed before they are stored or published; sync reports refreshed
tokens and failed refreshes (`needs_reauth`) through the internal endpoint.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from typing import Any
from urllib.parse import urlencode

import httpx

from contracts.ids import new_id
from contracts.installations import InstallationSnapshot, OAuthConnection
from services.base.auth import Principal
from services.base.errors import Conflict, NotFound, ServiceError, Unavailable
from services.base.hosts import HostCheck
from services.base.secrets_crypto import SecretBinding
from services.registry.outbox import OutboxRelay
from services.registry.schemas import OAuthReport, OAuthStart, OAuthStatusView
from services.registry.service.changes import Changeset, commit
from services.registry.service.vault import SecretVault
from services.registry.service.views import load_installation
from services.registry.store import RegistryStore
from services.registry.stored import OAuthPending, StoredInstallation


def seal_tokens(
    vault: SecretVault, snap: InstallationSnapshot, tokens: dict[str, Any]
) -> OAuthConnection:
    """A connected OAuth state holding `tokens` sealed at the next token revision."""
    previous = snap.oauth or OAuthConnection()
    revision = previous.token_revision + 1

    def seal(name: str) -> Any:
        value = tokens.get(name)
        if not value:
            return None
        binding = SecretBinding(
            workspace_id=snap.workspace_id,
            installation_id=snap.installation_id,
            name=f"oauth.{name}",
            revision=revision,
        )
        return vault.keyring.seal(str(value).encode(), binding)

    expires_in = tokens.get("expires_in")
    scope = tokens.get("scope")
    return OAuthConnection(
        status="connected",
        access_token=seal("access_token"),
        # A refresh answer without a new refresh token keeps using the old one.
        refresh_token=seal("refresh_token") or previous.refresh_token,
        token_revision=revision,
        expires_at=time.time() + float(expires_in) if expires_in else None,
        scopes=scope.split() if isinstance(scope, str) else previous.scopes,
    )


class OAuthService:
    """OAuth state of connections."""

    def __init__(
        self,
        store: RegistryStore,
        relay: OutboxRelay,
        vault: SecretVault,
        redirect_url: str,
        state_ttl_s: int,
        timeout_s: float,
        hosts: HostCheck | None = None,
    ) -> None:
        self.hosts = hosts or HostCheck()
        self.store = store
        self.relay = relay
        self.vault = vault
        self.redirect_url = redirect_url
        self.state_ttl_s = state_ttl_s
        self.oauth_timeout_s = timeout_s

    async def oauth_status(self, caller: Principal, installation_id: str) -> OAuthStatusView:
        """not_connected / connected / needs_reauth; tokens are never shown."""
        record = await load_installation(self.store, caller, installation_id, live=False)
        oauth = record.snapshot.oauth
        if oauth is None:
            raise NotFound("this installation does not use OAuth", field="oauth")
        return OAuthStatusView(
            status=oauth.status, scopes=oauth.scopes, expires_at=oauth.expires_at
        )

    async def start_oauth(self, caller: Principal, installation_id: str) -> OAuthStart:
        """The provider's authorization URL with a single-use `state` and a PKCE challenge."""
        caller.require_admin()
        record = await load_installation(self.store, caller, installation_id)
        snap = record.snapshot
        manifest = snap.active.manifest if snap.active else None
        if manifest is None or manifest.oauth is None:
            raise Conflict(f"{snap.extension_key} does not use OAuth", field="oauth")
        oauth = manifest.oauth
        await self.hosts.refuse_oauth_url(oauth.authorize_url, "oauth.authorizeUrl")
        await self.hosts.refuse_oauth_url(oauth.token_url, "oauth.tokenUrl")
        client_id = snap.settings.get(oauth.client_id_setting)
        if not client_id:
            raise Conflict(
                f"set {oauth.client_id_setting!r} before connecting",
                field=f"settings.{oauth.client_id_setting}",
            )
        state = new_id("st", 160)
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        pending = OAuthPending(
            workspace_id=caller.workspace_id,
            installation_id=installation_id,
            member_id=caller.member_id,
            code_verifier=verifier,
            redirect_uri=self.redirect_url,
            created_at=time.time(),
        )
        await self.store.put_oauth_pending(state, pending, self.state_ttl_s)
        query = urlencode(
            {
                "response_type": "code",
                "client_id": client_id,
                "redirect_uri": self.redirect_url,
                "scope": " ".join(oauth.scopes),
                "state": state,
                "code_challenge": challenge.decode().rstrip("="),
                "code_challenge_method": "S256",
            }
        )
        separator = "&" if "?" in oauth.authorize_url else "?"
        return OAuthStart(authorization_url=f"{oauth.authorize_url}{separator}{query}", state=state)

    async def complete_oauth(self, code: str, state: str) -> OAuthStatusView:
        """Exchange the code (with the PKCE verifier) and store the tokens sealed."""
        pending = await self.store.take_oauth_pending(state)
        if pending is None:
            raise ServiceError("unknown or expired OAuth state; start again", field="state")
        caller = Principal(
            workspace_id=pending.workspace_id,
            member_id=pending.member_id,
            role="admin",
            token_id="",
        )
        record = await load_installation(self.store, caller, pending.installation_id)
        tokens = await self._exchange(record, code, pending)

        async def decide(changes: Changeset) -> OAuthStatusView:
            current = await load_installation(self.store, caller, pending.installation_id)
            snap = current.snapshot
            connection = seal_tokens(self.vault, snap, tokens)
            changes.revise(current, oauth=connection)
            changes.audit("OAuthConnected", snap.installation_id, scopes=connection.scopes)
            view = OAuthStatusView(
                status="connected", scopes=connection.scopes, expires_at=connection.expires_at
            )
            return view

        return await commit(self.store, self.relay, pending.workspace_id, pending.member_id, decide)

    async def _exchange(
        self, record: StoredInstallation, code: str, pending: OAuthPending
    ) -> dict[str, Any]:
        snap = record.snapshot
        assert snap.active is not None and snap.active.manifest.oauth is not None
        oauth = snap.active.manifest.oauth
        await self.hosts.refuse_oauth_url(oauth.token_url, "oauth.tokenUrl")  # never post there
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": pending.redirect_uri,
            "client_id": str(snap.settings.get(oauth.client_id_setting, "")),
            "code_verifier": pending.code_verifier,
        }
        if oauth.client_secret in snap.secrets:
            form["client_secret"] = self.vault.open(snap, snap.secrets[oauth.client_secret])
        try:
            async with httpx.AsyncClient(timeout=self.oauth_timeout_s) as client:
                response = await client.post(
                    oauth.token_url, data=form, headers={"accept": "application/json"}
                )
        except httpx.HTTPError:
            raise Unavailable("the provider's token endpoint is unreachable; retry") from None
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
            error = (
                body.get("error", f"HTTP {response.status_code}") if isinstance(body, dict) else ""
            )
            raise ServiceError(
                f"the provider refused the authorization code: {error}", field="code"
            )
        return body

    async def report(self, installation_id: str, body: OAuthReport) -> OAuthStatusView:
        """Sync's word on a connection: refreshed tokens (connected) or a failed refresh."""

        async def decide(changes: Changeset) -> OAuthStatusView:
            caller = Principal(
                workspace_id=body.workspace_id, member_id="sync", role="admin", token_id=""
            )
            record = await load_installation(self.store, caller, installation_id)
            snap = record.snapshot
            if snap.oauth is None:
                raise Conflict("this installation does not use OAuth", field="oauth")
            if _stale(snap.oauth, body):
                current = snap.oauth
                return OAuthStatusView(
                    status=current.status, scopes=current.scopes, expires_at=current.expires_at
                )
            if body.status == "needs_reauth":
                connection = OAuthConnection(
                    status="needs_reauth",
                    token_revision=snap.oauth.token_revision,
                    scopes=snap.oauth.scopes,
                )
                changes.audit("OAuthNeedsReauth", installation_id, reason=body.reason)
            else:
                if not body.access_token:
                    raise ServiceError(
                        "a connected report carries an access token", field="access_token"
                    )
                connection = seal_tokens(
                    self.vault,
                    snap,
                    {
                        "access_token": body.access_token,
                        "refresh_token": body.refresh_token,
                        "expires_in": body.expires_in,
                    },
                )
                changes.audit("OAuthTokensRefreshed", installation_id)
            changes.revise(record, oauth=connection)
            view = OAuthStatusView(
                status=connection.status, scopes=connection.scopes, expires_at=connection.expires_at
            )
            return view

        return await commit(self.store, self.relay, body.workspace_id, "sync", decide)


def _stale(current: OAuthConnection, report: OAuthReport) -> bool:
    """Whether a sync report must not change the connection.

    A report about an older token revision lost to a newer connect (after a restart sync
    may act on a snapshot from before it); a failure about a connection never connected
    has nothing to re-authorize (it stays `not_connected`).
    """
    if report.token_revision is not None and report.token_revision < current.token_revision:
        return True
    return report.status == "needs_reauth" and current.status == "not_connected"
