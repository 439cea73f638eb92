"""The suite the CLI tests drive: registry, ingress and logs served on free ports.

They run in this process against the session's real broker and Valkey; the CLI under test
runs as its own process (`python -m cli.main`) and reaches them over HTTP, as a developer's
terminal would.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio

from contracts.ids import new_id
from services.ingress.app import create_app as create_ingress
from services.logs.app import create_app as create_logs
from services.logs.settings import LogsSettings
from services.registry.app import create_app as create_registry
from services.registry.settings import RegistrySettings
from tests.connectors.conftest import CONNECTORS
from tests.harness import Infra, logs_store_dir, serving, wait_ready
from tests.ingress.conftest import ingress_settings
from tests.registry.factories import new_tenant

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Suite:
    """Base URLs of the running services."""

    registry: str
    ingress: str
    logs: str
    infra: Infra
    http: httpx.AsyncClient

    async def workspace(self, slug: str = "cli") -> str:
        """A fresh workspace; returns its admin token."""
        tenant = await new_tenant(self.infra, self.http, self.registry, slug)
        return tenant.admin["authorization"].removeprefix("Bearer ")

    def env(self, token: str | None, config_home: Path, **extra: str) -> dict[str, str]:
        """Environment of a CLI process pointed at this suite."""
        values = {
            "BACKFILL_REGISTRY_URL": self.registry,
            "BACKFILL_INGRESS_URL": self.ingress,
            "BACKFILL_LOGS_URL": self.logs,
            "XDG_CONFIG_HOME": str(config_home),
            "COLUMNS": "200",
            **extra,
        }
        if token:
            values["BACKFILL_TOKEN"] = token
        return values

    async def api(self, token: str, method: str, service: str, path: str, **kw: Any) -> Any:
        """Call a service directly (to check what the CLI did)."""
        response = await self.http.request(
            method,
            f"{getattr(self, service)}{path}",
            headers={"authorization": f"Bearer {token}"},
            **kw,
        )
        assert response.is_success, response.text
        return response.json() if response.content else None


@pytest_asyncio.fixture(scope="package")
async def suite(infra: Infra, http: httpx.AsyncClient) -> AsyncIterator[Suite]:
    """Ingress, registry (first-party connectors, webhook URLs on that ingress) and logs.

    Package-scoped (its files run together, `tests/scheduling.py`): a logs service left
    running for the session read every later test's lines on this worker's broker and fired
    their workspaces' alerts from its own queue, with its own target rules."""
    async with contextlib.AsyncExitStack() as stack:
        ingress = await stack.enter_async_context(
            serving(create_ingress(ingress_settings(), infra.settings()))
        )
        registry = await stack.enter_async_context(
            serving(
                create_registry(
                    RegistrySettings(
                        connectors_dir=str(CONNECTORS),
                        sync_url="http://127.0.0.1:9",
                        ingress_url=ingress,
                    ),
                    infra.settings(),
                )
            )
        )
        logs = await stack.enter_async_context(
            serving(
                create_logs(
                    LogsSettings(group_id=f"logs-cli-{new_id('g')}", data_dir=logs_store_dir()),
                    infra.settings(),
                )
            )
        )
        for url in (ingress, registry, logs):
            await wait_ready(http, url, timeout=60)
        yield Suite(registry, ingress, logs, infra, http)


def clean_environment() -> dict[str, str]:
    """This process' environment without any BACKFILL_* setting."""
    return {k: v for k, v in os.environ.items() if not k.startswith("BACKFILL_")}


async def run(
    *args: str,
    env: dict[str, str],
    stdin: bytes | None = None,
    cwd: Path = ROOT,
    timeout: float = 120,
) -> tuple[int, str, str]:
    """Run `backfill ...` to completion; return (exit code, stdout, stderr)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli.main",
        *args,
        cwd=cwd,
        env={**clean_environment(), "PYTHONPATH": str(ROOT), **env},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(stdin or b""), timeout)
    return process.returncode or 0, out.decode(), err.decode()


async def run_json(*args: str, env: dict[str, str], **kw: Any) -> Any:
    """Run with --json; the output must parse."""
    code, out, err = await run(*args, "--json", env=env, **kw)
    assert code == 0, err
    return json.loads(out)


def write_extension(directory: Path, key: str, version: str, hosts: list[str]) -> Path:
    """A private extension with one HTTP route, declaring `hosts`."""
    (directory / "src" / "api").mkdir(parents=True, exist_ok=True)
    manifest = {
        "key": key,
        "kind": "extension",
        "name": "Notes",
        "version": version,
        "permissions": {"entities": [], "http": hosts, "secrets": []},
    }
    (directory / "manifest.json").write_text(json.dumps(manifest))
    (directory / "src" / "api" / "notes.py").write_text(
        "from sdk import api\nGET = api(lambda r: {})\n"
    )
    return directory
