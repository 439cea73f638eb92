"""Registry fixtures: one registry served for the session (real broker, Valkey, uvicorn) with
a fake sync service answering the test-connection contract, and a fresh workspace per test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest_asyncio
from litestar import Litestar, Request, Response, post

from services.base.keys import create_redis
from services.base.settings import InfraSettings
from services.registry.app import create_app
from services.registry.settings import RegistrySettings
from services.registry.store import first_party_key
from tests.harness import Infra, TopicMarks, eventually, serving, wait_ready
from tests.registry.factories import CONNECTORS, Tenant, new_tenant

INGRESS_URL = "https://hooks.example.test"


@dataclass
class FakeSync:
    """A real HTTP server answering `POST /internal/test-connection` like the sync service."""

    url: str = ""
    calls: list[dict[str, Any]] = field(default_factory=list)
    # While `gate` is set to an unset Event, each call signals `waiting` and holds its answer.
    gate: asyncio.Event | None = None
    waiting: asyncio.Event = field(default_factory=asyncio.Event)


def fake_sync_app(state: FakeSync, internal_token: str) -> Litestar:
    @post("/internal/test-connection", status_code=200)
    async def test_connection(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
        if request.headers.get("authorization") != f"Bearer {internal_token}":
            return Response({"error": "unauthenticated"}, status_code=401)
        body = await request.json()
        state.calls.append(body)
        if state.gate is not None:
            state.waiting.set()
            await state.gate.wait()
        ok = str(body["secrets"].get("api_key", "")).startswith("good-")
        return Response({"ok": ok, "message": "authenticated" if ok else "invalid api key"})

    return Litestar([test_connection])


@pytest_asyncio.fixture(scope="session")
async def fake_sync(infra: Infra) -> AsyncIterator[FakeSync]:
    state = FakeSync()
    async with serving(fake_sync_app(state, infra.settings().internal_token)) as url:
        state.url = url
        yield state


def registry_settings(fake_sync: FakeSync, **overrides: Any) -> RegistrySettings:
    values: dict[str, Any] = {
        "connectors_dir": str(CONNECTORS),
        "sync_url": fake_sync.url,
        "ingress_url": INGRESS_URL,
        "secret_grace_s": 3600.0,
    }
    values.update(overrides)
    return RegistrySettings(**values)


@pytest_asyncio.fixture(scope="session")
async def registry(
    infra: Infra, http: httpx.AsyncClient, fake_sync: FakeSync
) -> AsyncIterator[str]:
    """The registry's base URL, once ready and its first-party catalog registered."""
    async with running_registry(infra, http, registry_settings(fake_sync)) as url:
        yield url


class running_registry:
    """Serve a registry app with `settings` until the block ends."""

    def __init__(
        self,
        infra: Infra,
        http: httpx.AsyncClient,
        settings: RegistrySettings,
        infra_settings: InfraSettings | None = None,
    ) -> None:
        self.app = create_app(settings, infra_settings or infra.settings())
        self.infra = infra
        self.http = http
        self._serving = serving(self.app)

    async def __aenter__(self) -> str:
        url = await self._serving.__aenter__()
        await wait_ready(self.http, url)
        redis = create_redis(self.infra.redis_url)
        try:
            await eventually(
                lambda: redis.exists(first_party_key("acme-crm")),
                timeout=30,
                what="first-party catalog registered",
            )
        finally:
            await redis.aclose()
        return url

    async def __aexit__(self, *exc: Any) -> None:
        await self._serving.__aexit__(*exc)


@pytest_asyncio.fixture
async def tenant(infra: Infra, http: httpx.AsyncClient, registry: str) -> Tenant:
    """A fresh workspace with an admin and a member."""
    return await new_tenant(infra, http, registry, "acme")


@pytest_asyncio.fixture
async def other_tenant(infra: Infra, http: httpx.AsyncClient, registry: str) -> Tenant:
    """A second, unrelated workspace."""
    return await new_tenant(infra, http, registry, "globex")


@pytest_asyncio.fixture(autouse=True)
async def _reads_start_at_this_test(marked_topics: TopicMarks) -> None:
    """Topic reads skip what earlier tests wrote (see `TopicMarks`)."""
