"""Registry, ingress and logs served together for API route, API key and page tests.

The registry builds the route table at deploy and issues API keys; ingress follows the
snapshots it publishes and serves `/ext/...` and the pages API; logs stores the lines.
Ingress runs with a short time limit (2 s) and a per-installation rate limit of
`RATE_LIMIT` calls a minute, so each test installs its own installation.
"""

from __future__ import annotations

import contextlib
import io
import tarfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest_asyncio

from sdk.bundle import pack
from services.ingress.app import create_app as ingress_app
from services.logs.app import create_app as logs_app
from services.logs.settings import LogsSettings
from services.registry.app import create_app as registry_app
from services.registry.settings import RegistrySettings
from tests.harness import Infra, eventually, logs_store_dir, serving, wait_ready
from tests.ingress.conftest import ingress_settings
from tests.registry.conftest import FakeSync, fake_sync_app
from tests.registry.factories import CONNECTORS, Tenant, new_tenant

FIXTURE = Path(__file__).parent / "fixtures" / "routes_pages"
RATE_LIMIT = 25


@dataclass
class Stack:
    """Base URLs of the running services and one workspace (admin + member)."""

    registry: str
    ingress: str
    logs: str
    tenant: Tenant
    http: httpx.AsyncClient

    async def deploy(self, directory: Path = FIXTURE, **changes: Any) -> httpx.Response:
        """Deploy `directory` (manifest fields changed by `changes`) as the workspace admin."""
        archive = bundle_of(directory, **changes)
        key = msgspec.json.decode((directory / "manifest.json").read_bytes())["key"]
        return await self.http.post(
            f"{self.registry}/v1/extensions/{key}/versions",
            params={"mode": "active"},
            content=archive,
            headers={**self.tenant.admin, "content-type": "application/gzip"},
        )

    async def install(self, key: str = "routes-pages") -> str:
        """A new installation of `key`, once ingress serves it."""
        response = await self.http.post(
            f"{self.registry}/v1/installations",
            json={"extension_key": key, "connection_name": uuid.uuid4().hex[:8]},
            headers=self.tenant.admin,
        )
        assert response.status_code == 201, response.text
        installation_id = str(response.json()["id"])
        await self.served(installation_id)
        return installation_id

    async def served(self, installation_id: str, state: str = "active") -> None:
        """Until ingress holds the installation in `state`."""

        async def serving_it() -> bool:
            answer = await self.http.get(
                f"{self.ingress}/v1/installations/{installation_id}/routes",
                headers=self.tenant.admin,
            )
            return answer.status_code == 200 and answer.json()["state"] == state

        await eventually(serving_it, timeout=20, what=f"ingress serving {installation_id}")

    async def api_key(self, installation_id: str, name: str = "ci") -> dict[str, Any]:
        """Create an API key (admin): `{"key": {...}, "secret": "bfk_..."}`."""
        response = await self.http.post(
            f"{self.registry}/v1/installations/{installation_id}/api-keys",
            json={"name": name},
            headers=self.tenant.admin,
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    def ext(self, installation_id: str, path: str) -> str:
        return f"{self.ingress}/ext/{installation_id}{path}"


def bundle_of(directory: Path, **changes: Any) -> bytes:
    """The archive of `directory`, its manifest updated with `changes` (others as they are)."""
    if not changes:
        return pack(directory)[0]
    archive = pack(directory)[0]
    manifest = {**msgspec.json.decode((directory / "manifest.json").read_bytes()), **changes}
    return replaced(archive, {"manifest.json": msgspec.json.encode(manifest)})


def replaced(archive: bytes, files: dict[str, bytes | None]) -> bytes:
    """`archive` with `files` replaced, added, or (None) removed."""
    out = io.BytesIO()
    with (
        tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as source,
        tarfile.open(fileobj=out, mode="w:gz") as target,
    ):
        for member in source.getmembers():
            if member.name in files:
                continue
            target.addfile(member, source.extractfile(member))
        for name, data in files.items():
            if data is None:
                continue
            info = tarfile.TarInfo(name)
            info.size = len(data)
            target.addfile(info, io.BytesIO(data))
    return out.getvalue()


@contextlib.asynccontextmanager
async def running_stack(infra: Infra, http: httpx.AsyncClient) -> AsyncIterator[Stack]:
    """Every service of the stack, ready, with a fresh workspace."""
    group = f"ext-{uuid.uuid4().hex[:8]}"
    fake = FakeSync()
    async with (
        serving(fake_sync_app(fake, infra.settings().internal_token)) as sync_url,
        serving(
            ingress_app(
                ingress_settings(handler_time_limit_s=2.0, route_rate_limit=RATE_LIMIT),
                infra.settings(),
            )
        ) as ingress,
        serving(
            logs_app(LogsSettings(group_id=group, data_dir=logs_store_dir()), infra.settings())
        ) as logs,
    ):
        for url in (ingress, logs):
            await wait_ready(http, url)
        settings = RegistrySettings(
            connectors_dir=str(CONNECTORS), sync_url=sync_url, ingress_url=ingress
        )
        async with serving(registry_app(settings, infra.settings())) as registry:
            await wait_ready(http, registry)
            tenant = await new_tenant(infra, http, registry, "routes")
            yield Stack(registry, ingress, logs, tenant, http)


@pytest_asyncio.fixture(scope="module", name="stack")
async def stack_fixture(infra: Infra, http: httpx.AsyncClient) -> AsyncIterator[Stack]:
    """`stack`: one per test module that imports it, with the test extension deployed."""
    async with running_stack(infra, http) as started:
        deployed = await started.deploy()
        assert deployed.status_code in (200, 201), deployed.text
        yield started
