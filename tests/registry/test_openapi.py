"""The OpenAPI document describes every registry route."""

from __future__ import annotations

import re

import httpx

from services.registry.app import create_app
from tests.harness import Infra
from tests.registry.conftest import FakeSync, registry_settings


async def test_the_openapi_document_describes_every_route(
    http: httpx.AsyncClient, registry: str, infra: Infra, fake_sync: FakeSync
) -> None:
    document = (await http.get(f"{registry}/schema/openapi.json")).json()
    app = create_app(registry_settings(fake_sync), infra.settings())
    expected = set()
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            if handler.include_in_schema and route.path.startswith("/v1"):
                path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
                for method in handler.http_methods:
                    expected.add((path, method.lower()))
    assert len(expected) >= 30
    for path, method in sorted(expected):
        operation = document["paths"].get(path, {}).get(method)
        assert operation is not None, (path, method)
        assert operation.get("description") or operation.get("summary"), (path, method)
    deploy = document["paths"]["/v1/extensions/{key}/versions"]["post"]
    assert "application/gzip" in deploy["requestBody"]["content"]


async def test_internal_routes_are_not_in_the_public_document(
    http: httpx.AsyncClient, registry: str
) -> None:
    document = (await http.get(f"{registry}/schema/openapi.json")).json()
    assert [p for p in document["paths"] if not p.startswith("/v1/")] == []


async def test_operations_that_take_the_token_say_so_and_the_oauth_callback_does_not(
    http: httpx.AsyncClient, registry: str
) -> None:
    paths = (await http.get(f"{registry}/schema/openapi.json")).json()["paths"]
    assert paths["/v1/installations"]["get"]["security"] == [{"bearer": []}]
    assert "401" in paths["/v1/installations"]["get"]["responses"]
    callback = paths["/v1/oauth/callback"]["get"]
    assert "security" not in callback and "401" not in callback["responses"]
