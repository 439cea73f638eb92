"""OAuth tests' setup, once: an OAuth connection's snapshot, and sync running against a token
endpoint, a recording registry and a provider."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
from litestar import Litestar, Request, post
from litestar.params import FromPath

from contracts.installations import InstallationSnapshot, OAuthConnection
from services.base.secrets_crypto import SecretBinding
from services.sync.app import create_app
from tests.harness import serving
from tests.runtime.factories import deploy_directory, installation
from tests.sync.conftest import sync_settings
from tests.sync.providers import OAuthServer, PagedProvider

ACME = Path(__file__).parent / "bundles" / "acme"


def recording_registry(reports: list[dict[str, Any]]) -> Litestar:
    """The registry's internal OAuth report endpoint, recording what sync reported."""

    @post("/internal/installations/{installation_id:str}/oauth", status_code=200)
    async def report(installation_id: FromPath[str], request: Request) -> dict[str, str]:
        reports.append({"installation_id": installation_id, **(await request.json())})
        return {"status": "ok"}

    return Litestar([report])


async def oauth_install(
    redis, keyring, *, refresh: str, access: str = "at_0", expires_in: float = -60
) -> InstallationSnapshot:
    """A connected installation of the acme connector whose access token expires in
    `expires_in` seconds (already expired by default)."""
    version = await deploy_directory(redis, ACME)
    snap = installation(
        version,
        keyring=keyring,
        secrets={"client_secret": "cs_acme"},
        settings={"client_id": "acme-client"},
    )

    def seal(name: str, value: str):
        binding = SecretBinding(
            workspace_id=snap.workspace_id,
            installation_id=snap.installation_id,
            name=f"oauth.{name}",
            revision=1,
        )
        return keyring.seal(value.encode(), binding)

    oauth = OAuthConnection(
        status="connected",
        access_token=seal("access_token", access),
        refresh_token=seal("refresh_token", refresh),
        token_revision=1,
        expires_at=time.time() + expires_in,
    )
    return msgspec.structs.replace(snap, oauth=oauth)


@dataclass
class OAuthSync:
    """A running sync (`url`), the token endpoint it refreshes at and what it reported."""

    url: str
    server: OAuthServer
    reports: list[dict[str, Any]] = field(default_factory=list)


@asynccontextmanager
async def oauth_sync(
    infra, provider: PagedProvider, *, tokens_checked: bool = False
) -> AsyncIterator[OAuthSync]:
    """Sync polling `provider` (`tokens_checked`: which accepts only the endpoint's tokens),
    refreshing at a local token endpoint and reporting to a recording registry."""
    server, reports = OAuthServer(), []
    if tokens_checked:
        provider.token_check = server.accepts
    async with (
        serving(server.app()) as oauth,
        serving(recording_registry(reports)) as registry,
        serving(provider.app()) as api,
    ):
        settings = sync_settings(
            host_overrides=f"api.acme.test={api},auth.acme.test={oauth}", registry_url=registry
        )
        async with serving(create_app(settings, infra.settings())) as sync:
            yield OAuthSync(url=sync, server=server, reports=reports)
