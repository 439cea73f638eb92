"""HTTP in: webhook URL, test-connection and OAuth of an installation."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from services.base.auth import Principal, require_internal_token
from services.registry.schemas import (
    ConnectionTest,
    ConnectionTestCreate,
    OAuthReport,
    OAuthStart,
    OAuthStatusView,
    WebhookEndpoint,
)
from services.registry.service.connections import ConnectionService
from services.registry.service.oauth import OAuthService


class ConnectionController(Controller):
    """The connection side of an installation."""

    path = "/v1/installations/{installation_id:str}"
    tags = ["connections"]

    @get("/webhook")
    async def get_webhook(
        self,
        principal: NamedDependency[Principal],
        connections: NamedDependency[ConnectionService],
        installation_id: FromPath[str],
    ) -> WebhookEndpoint:
        """The per-installation webhook URL to paste into the provider."""
        return await connections.webhook(principal, installation_id)

    @post("/webhook/rotate", status_code=200)
    async def rotate_webhook(
        self,
        principal: NamedDependency[Principal],
        connections: NamedDependency[ConnectionService],
        installation_id: FromPath[str],
    ) -> WebhookEndpoint:
        """Replace the webhook URL (admin); the old one stops resolving."""
        return await connections.rotate_webhook(principal, installation_id)

    @post("/test-connection", status_code=200)
    async def test_connection(
        self,
        principal: NamedDependency[Principal],
        connections: NamedDependency[ConnectionService],
        installation_id: FromPath[str],
        data: JSONBody[ConnectionTestCreate | None] = None,
    ) -> ConnectionTest:
        """Run the connector's testConnection (admin): on the stored credentials, or on
        `settings` given here over them (an unsaved form). Nothing is saved either way."""
        proposed = data.settings if data is not None else None
        return await connections.test_connection(principal, installation_id, proposed)

    @get("/oauth")
    async def get_oauth_status(
        self,
        principal: NamedDependency[Principal],
        oauth: NamedDependency[OAuthService],
        installation_id: FromPath[str],
    ) -> OAuthStatusView:
        """not_connected, connected or needs_reauth."""
        return await oauth.oauth_status(principal, installation_id)

    @post("/oauth/start", status_code=200)
    async def start_oauth(
        self,
        principal: NamedDependency[Principal],
        oauth: NamedDependency[OAuthService],
        installation_id: FromPath[str],
    ) -> OAuthStart:
        """The provider's authorization URL with state and a PKCE S256 challenge (admin)."""
        return await oauth.start_oauth(principal, installation_id)


class OAuthCallbackController(Controller):
    """Where the provider sends the admin back; authenticated by the single-use state."""

    path = "/v1/oauth"
    tags = ["connections"]

    @get("/callback")
    async def oauth_callback(
        self,
        oauth: NamedDependency[OAuthService],
        code: FromQuery[str],
        oauth_state: Annotated[str, QueryParameter(name="state")],
    ) -> OAuthStatusView:
        """Exchange the code for tokens and store them sealed."""
        return await oauth.complete_oauth(code, oauth_state)


class InternalOAuthController(Controller):
    """Service-to-service (internal token): sync reports refreshed tokens and failed refreshes."""

    path = "/internal/installations/{installation_id:str}/oauth"
    tags = ["internal"]
    include_in_schema = False  # not a public API (docs/http-api.md): the internal token only

    @post("/", status_code=200, guards=[require_internal_token])
    async def report_oauth(
        self,
        oauth: NamedDependency[OAuthService],
        installation_id: FromPath[str],
        data: JSONBody[OAuthReport],
    ) -> OAuthStatusView:
        """Store refreshed tokens sealed, or mark the connection needs_reauth."""
        return await oauth.report(installation_id, data)
