"""Run extension code on your machine, without the platform: the SDK's local test helpers.

`LocalRun` stands in for the runtime's capabilities: it records what the code ingests and
logs, serves the settings and secrets you give it, and refuses HTTP to hosts you did not
allow (as the runtime refuses hosts the manifest does not declare). It does not sandbox
anything and checks no manifest: it is for unit tests of handlers, streams and connection
tests; `backfill dev` runs the same code under the real runtime.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import httpx

from contracts.logs import LogLevel
from sdk.api import HttpResponse, Request, Route
from sdk.context import bound
from sdk.errors import PermissionDenied


@dataclass
class LocalRun:
    """Capabilities of one local run; `records` and `lines` are what the code did."""

    settings: Mapping[str, Any] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict)
    hosts: tuple[str, ...] = ()
    transport: httpx.AsyncBaseTransport | None = None
    records: list[dict[str, Any]] = field(default_factory=list)
    lines: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    annotations: dict[str, str | None] = field(default_factory=dict)

    def log(self, level: LogLevel, message: str, attrs: dict[str, Any]) -> None:
        """Keep the line."""
        self.lines.append((level, message, attrs))

    def secret(self, name: str) -> str | None:
        """The secret you passed in, or None."""
        return self.secrets.get(name)

    def ingest(
        self, canonical_type: str, payload: dict[str, Any], stream: str | None, key: str
    ) -> dict[str, Any]:
        """Keep the record."""
        self.records.append(
            {"canonical_type": canonical_type, "payload": payload, "stream": stream, "key": key}
        )
        return {"idempotency_key": key, "status": "accepted"}

    async def request(self, method: str, url: str, **options: Any) -> httpx.Response:
        """HTTP to an allowed host (through `transport` when given, e.g. httpx.MockTransport)."""
        host = urlsplit(url).hostname or ""
        if host not in self.hosts:
            raise PermissionDenied("http", host, "host not allowed in this local run")
        async with httpx.AsyncClient(transport=self.transport) as client:
            return await client.request(method, url, **options)

    def annotate(self, **fields: str | None) -> None:
        """Keep the entity / event annotations."""
        self.annotations.update(fields)

    async def call(
        self,
        route: Route,
        body: bytes | dict[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        method: str = "POST",
        path: str = "/",
    ) -> HttpResponse:
        """Call a route handler (`POST = api(...)`) with these capabilities bound."""
        raw = json.dumps(body).encode() if isinstance(body, dict) else (body or b"")
        request = Request(method=method, path=path, raw_body=raw, headers=dict(headers or {}))
        with bound(self):
            return await route(request)

    async def run(self, function: Any, *args: Any) -> Any:
        """Await `function(*args)` (a stream's `fetch`, a `test_connection`) with these bound."""
        with bound(self):
            return await function(*args)


def load(path: Path | str) -> ModuleType:
    """Import one source file of an extension as a module (no package needed)."""
    path = Path(path)
    spec = importlib.util.spec_from_file_location(f"local_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
