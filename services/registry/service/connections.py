"""Connections: webhook URLs, test-connection orchestration and the OAuth authorization flow.

The registry never runs connector code: credentials are checked by the sync service and are
saved only when the connector accepts them. OAuth uses the authorization-code flow with PKCE
(S256); `state` is single use and expires; tokens are sealed before they are stored.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from typing import Any
from urllib.parse import urlencode

import httpx
import msgspec

from contracts.installations import OAuthConnection
from contracts.topics import AUDIT_EVENTS
from services.base.auth import Principal
from services.base.errors import Conflict, NotFound, ServiceError, Unavailable
from services.base.ids import new_id
from services.base.secrets_crypto import SecretBinding
from services.registry import outbox
from services.registry.errors import ConnectionTestFailed
from services.registry.outbox import OutboxRelay
from services.registry.records import InstallationRecord, OAuthPending
from services.registry.schemas import ConnectionTest, OAuthStart, OAuthStatusView, WebhookEndpoint
from services.registry.service.changes import Changeset
from services.registry.service.vault import SecretVault
from services.registry.service.views import load_installation
from services.registry.service.workspaces import audit
from services.registry.store import RegistryStore
from services.registry.sync_client import SyncClient

HOOK_ID_BITS = 130  # unguessable per-installation webhook URL (≥ 128 bits)


def new_hook_id() -> str:
    """A fresh webhook id: the URL alone resolves the tenant, so it must be unguessable."""
    return new_id("hk", HOOK_ID_BITS)


class CredentialCheck:
    """Runs a connector's testConnection (via sync) on credentials before they are saved."""

    def __init__(self, sync: SyncClient, vault: SecretVault) -> None:
        self.sync = sync
        self.vault = vault

    async def verify(
        self,
        record: InstallationRecord,
        changes: dict[str, Any],
        settings: dict[str, Any],
        new_values: dict[str, str],
    ) -> None:
        """Raise ConnectionTestFailed unless the connector accepts the proposed credentials."""
        snap = record.snapshot
        version = snap.active
        if version is None or not _tests_connection(version.manifest):
            return
        proposed = msgspec.structs.replace(snap, settings=settings, **changes)
        plaintext = {**self.vault.reveal(snap), **new_values}
        verdict = await self.sync.test_connection(proposed, version, settings, plaintext)
        if not verdict.ok:
            raise ConnectionTestFailed(
                f"the connection test failed, nothing was saved: {verdict.message}",
                field=next(iter(new_values), None),
            )


def _tests_connection(manifest: Any) -> bool:
    return bool(manifest.connection is not None and manifest.connection.test_connection)


class ConnectionService:
    """Webhook URL, test-connection and OAuth state of installations."""

    def __init__(
        self,
        store: RegistryStore,
        relay: OutboxRelay,
        vault: SecretVault,
        sync: SyncClient,
        ingress_url: str,
        redirect_url: str,
        state_ttl_s: int,
        oauth_timeout_s: float,
    ) -> None:
        self.store = store
        self.relay = relay
        self.vault = vault
        self.sync = sync
        self.ingress_url = ingress_url.rstrip("/")
        self.redirect_url = redirect_url
        self.state_ttl_s = state_ttl_s
        self.oauth_timeout_s = oauth_timeout_s

    async def webhook(self, caller: Principal, installation_id: str) -> WebhookEndpoint:
        """The installation's webhook URL; 404 when its manifest declares no webhook."""
        record = await load_installation(self.store, caller, installation_id)
        hook_id = record.snapshot.hook_id
        if not hook_id:
            raise NotFound("this installation receives no webhooks", field="webhooks")
        return WebhookEndpoint(hook_id=hook_id, url=f"{self.ingress_url}/hooks/{hook_id}")

    async def rotate_webhook(self, caller: Principal, installation_id: str) -> WebhookEndpoint:
        """A new URL; the old one stops resolving with the new snapshot revision."""
        caller.require_admin()

        async def decide() -> tuple[Any, WebhookEndpoint]:
            record = await load_installation(self.store, caller, installation_id)
            if not record.snapshot.hook_id:
                raise NotFound("this installation receives no webhooks", field="webhooks")
            hook_id = new_hook_id()
            changes = Changeset(caller.workspace_id, caller.member_id)
            changes.revise(record, hook_id=hook_id)
            changes.audit("WebhookUrlRotated", installation_id)
            return changes.build, WebhookEndpoint(
                hook_id=hook_id, url=f"{self.ingress_url}/hooks/{hook_id}"
            )

        result = await self.store.guarded(caller.workspace_id, decide)
        self.relay.notify()
        return result

    async def test_connection(self, caller: Principal, installation_id: str) -> ConnectionTest:
        """Run the connector's testConnection with the stored credentials; audited."""
        caller.require_admin()
        record = await load_installation(self.store, caller, installation_id)
        snap = record.snapshot
        if snap.active is None or not _tests_connection(snap.active.manifest):
            raise Conflict(
                f"{snap.extension_key} declares no connection test",
                field="connection.testConnection",
            )
        verdict = await self.sync.test_connection(
            snap, snap.active, snap.settings, self.vault.reveal(snap)
        )
        event = audit(
            caller.workspace_id,
            caller.member_id,
            "ConnectionTested",
            installation_id,
            ok=verdict.ok,
        )
        await self.store.transaction(
            lambda pipe: outbox.append(pipe, caller.workspace_id, AUDIT_EVENTS, event)
        )
        self.relay.notify()
        return verdict

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

        async def decide() -> tuple[Any, OAuthStatusView]:
            current = await load_installation(self.store, caller, pending.installation_id)
            snap = current.snapshot
            previous = snap.oauth or OAuthConnection()
            revision = previous.token_revision + 1

            def seal(name: str, value: str | None) -> Any:
                if not value:
                    return None
                binding = SecretBinding(
                    workspace_id=snap.workspace_id,
                    installation_id=snap.installation_id,
                    name=f"oauth.{name}",
                    revision=revision,
                )
                return self.vault.keyring.seal(value.encode(), binding)

            expires_in = tokens.get("expires_in")
            scope = tokens.get("scope")
            connection = OAuthConnection(
                status="connected",
                access_token=seal("access_token", tokens["access_token"]),
                refresh_token=seal("refresh_token", tokens.get("refresh_token")),
                token_revision=revision,
                expires_at=time.time() + float(expires_in) if expires_in else None,
                scopes=scope.split() if isinstance(scope, str) else [],
            )
            changes = Changeset(snap.workspace_id, pending.member_id)
            changes.revise(current, oauth=connection)
            changes.audit("OAuthConnected", snap.installation_id, scopes=connection.scopes)
            view = OAuthStatusView(
                status="connected", scopes=connection.scopes, expires_at=connection.expires_at
            )
            return changes.build, view

        result = await self.store.guarded(pending.workspace_id, decide)
        self.relay.notify()
        return result

    async def _exchange(
        self, record: InstallationRecord, code: str, pending: OAuthPending
    ) -> dict[str, Any]:
        snap = record.snapshot
        assert snap.active is not None and snap.active.manifest.oauth is not None
        oauth = snap.active.manifest.oauth
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
