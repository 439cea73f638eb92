"""The whole suite for the console's browser tests, in-process on free ports.

A local Stripe-like server answers the connector's credential check, then sync, ingress,
logs, registry and console run against the session's broker and Valkey; Debian's Chromium
(driven by Playwright) is the browser. Tests skip, saying why, when Chromium is missing:
`make test` installs it.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from litestar import Litestar, Request, Response, get
from litestar.params import FromPath
from redis.asyncio import Redis

from cli.embedded import free_port
from services.console.app import create_app as console_app
from services.console.settings import ConsoleSettings
from services.ingress.app import create_app as ingress_app
from services.logs.app import create_app as logs_app
from services.logs.settings import LogsSettings
from services.registry.app import create_app as registry_app
from services.registry.settings import RegistrySettings
from services.registry.store import first_party_key
from services.sync.app import create_app as sync_app
from services.sync.settings import SyncSettings
from tests.harness import Infra, logs_store_dir, serving, wait_ready
from tests.ingress.conftest import ingress_settings
from tests.registry.factories import Tenant, new_tenant

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
GOOD_KEY = "sk_test_good"  # the Stripe-like server accepts keys starting with this
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "console"


@get("/v1/account", sync_to_thread=False)
def stripe_account(request: Request[Any, Any, Any]) -> Response[Any]:
    """Stripe's account endpoint: 200 for a good key, Stripe's 401 shape otherwise."""
    if not request.headers.get("authorization", "").startswith(f"Bearer {GOOD_KEY}"):
        return Response({"error": {"type": "invalid_request_error"}}, status_code=401)
    return Response({"id": "acct_1Console", "business_profile": {"name": "Acme Inc."}})


@get("/v1/{resource:str}", sync_to_thread=False)
def stripe_list(request: Request[Any, Any, Any], resource: FromPath[str]) -> Response[Any]:
    """Stripe's list endpoints (what the connector's streams poll): empty, one page."""
    if not request.headers.get("authorization", "").startswith(f"Bearer {GOOD_KEY}"):
        return Response({"error": {"type": "invalid_request_error"}}, status_code=401)
    return Response({"object": "list", "url": f"/v1/{resource}", "data": [], "has_more": False})


@dataclass
class Suite:
    """Base URLs of the running services and the workspace under test."""

    console: str
    registry: str
    ingress: str
    tenant: Tenant
    infra: Infra
    http: httpx.AsyncClient

    async def api(self, method: str, path: str, *, as_member: bool = False, **kw: Any) -> Any:
        """Call the registry as the workspace admin (or member); the JSON answer."""
        headers = self.tenant.member if as_member else self.tenant.admin
        response = await self.http.request(method, f"{self.registry}{path}", headers=headers, **kw)
        return response.json()


def sync_settings(stripe: str, group_id: str) -> SyncSettings:
    """Sync calling the local Stripe-like server for api.stripe.com."""
    return SyncSettings(host_overrides=f"api.stripe.com={stripe}", group_id=group_id)


def logs_settings(group_id: str) -> LogsSettings:
    """Logs settings on this test process' one embedded store."""
    return LogsSettings(group_id=group_id, data_dir=logs_store_dir())


@pytest_asyncio.fixture(scope="package")
async def suite(infra: Infra, http: httpx.AsyncClient) -> AsyncIterator[Suite]:
    """Every service of the suite, ready, with one fresh workspace (admin + member).

    Package-scoped, with consumer groups of its own: it stops when the console tests end and
    never takes partitions from another test's sync or logs service.
    """
    groups = f"console-{uuid.uuid4().hex[:8]}"
    async with (
        serving(Litestar([stripe_account, stripe_list])) as stripe,
        serving(sync_app(sync_settings(stripe, f"{groups}-sync"), infra.settings())) as sync,
        serving(ingress_app(ingress_settings(), infra.settings())) as ingress,
        serving(logs_app(logs_settings(f"{groups}-logs"), infra.settings())) as logs,
    ):
        for url in (sync, ingress, logs):
            await wait_ready(http, url)
        console_port = free_port()  # known first: OAuth providers send the admin back there
        settings = RegistrySettings(
            sync_url=sync,
            ingress_url=ingress,
            secret_grace_s=3600.0,
            oauth_redirect_url=f"http://127.0.0.1:{console_port}/oauth/callback",
            oauth_allow_local_providers=True,  # test providers run on 127.0.0.1
        )
        async with serving(registry_app(settings, infra.settings())) as registry:
            await wait_ready(http, registry)
            await catalog_registered(infra, "stripe")
            console = console_app(
                ConsoleSettings(
                    registry_url=registry, ingress_url=ingress, sync_url=sync, logs_url=logs
                ),
                infra.settings(),
            )
            async with serving(console, console_port) as console_url:
                await wait_ready(http, console_url)
                tenant = await new_tenant(infra, http, registry, "console")
                yield Suite(console_url, registry, ingress, tenant, infra, http)


@pytest_asyncio.fixture(scope="package")
async def browser() -> AsyncIterator[Any]:
    """Debian's Chromium, headless, driven by Playwright."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


async def catalog_registered(infra: Infra, key: str) -> None:
    """Until the registry has registered the repository's first-party connector `key`."""
    redis = Redis.from_url(infra.redis_url)
    try:
        deadline = time.monotonic() + 30
        while not await redis.exists(first_party_key(key)):
            assert time.monotonic() < deadline, f"first-party {key} not registered"
            await asyncio.sleep(0.05)
    finally:
        await redis.aclose()


def token_of(headers: dict[str, str]) -> str:
    return headers["authorization"].removeprefix("Bearer ")
