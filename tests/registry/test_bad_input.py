"""Rejected calls name the problem and write nothing: Redis and the topics are unchanged."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from contracts.topics import AUDIT_EVENTS, INSTALLATION_SNAPSHOTS
from tests.harness import Infra
from tests.registry.factories import (
    Tenant,
    bundle,
    deploy,
    end_offsets,
    install,
    manifest,
    raw_bundle,
    redis_dump,
    wait_outbox_drained,
)

CONFIG = {
    "properties": {"channel": {"type": "string"}, "mode": {"type": "string", "enum": ["a", "b"]}},
    "required": ["channel"],
}


async def _world(infra: Infra) -> tuple[dict[str, Any], dict[int, int], dict[int, int]]:
    return (
        await redis_dump(infra, only_registry=True),
        await end_offsets(infra, INSTALLATION_SNAPSHOTS),
        await end_offsets(infra, AUDIT_EVENTS),
    )


Call = Callable[[httpx.AsyncClient, str, Tenant, dict[str, str]], Awaitable[httpx.Response]]


def _gz(tenant: Tenant) -> dict[str, str]:
    return {**tenant.admin, "content-type": "application/gzip"}


CASES: dict[str, tuple[Call, int, str | None]] = {
    "unknown extension": (
        lambda h, u, t, ids: install(h, u, t, "no-such-thing"),
        404,
        "extension_key",
    ),
    "invalid manifest": (
        lambda h, u, t, ids: h.post(
            f"{u}/v1/extensions/notes/versions",
            content=raw_bundle(json.dumps({**manifest("notes"), "kind": "widget"}).encode()),
            headers=_gz(t),
        ),
        400,
        "kind",
    ),
    "manifest key differs from the URL": (
        lambda h, u, t, ids: h.post(
            f"{u}/v1/extensions/other/versions", content=bundle(manifest("notes")), headers=_gz(t)
        ),
        400,
        "key",
    ),
    "invalid settings on install": (
        lambda h, u, t, ids: install(h, u, t, "notes", connection_name="b", settings={"mode": "c"}),
        400,
        "settings.mode",
    ),
    "invalid settings on update": (
        lambda h, u, t, ids: h.patch(
            f"{u}/v1/installations/{ids['notes']}/settings",
            json={"settings": {"channel": 5}},
            headers=t.admin,
        ),
        400,
        "settings.channel",
    ),
    "unknown secret name": (
        lambda h, u, t, ids: h.put(
            f"{u}/v1/installations/{ids['notes']}/secrets/nope",
            json={"value": "x"},
            headers=t.admin,
        ),
        400,
        "name",
    ),
    "rollback to a version never deployed": (
        lambda h, u, t, ids: h.post(
            f"{u}/v1/installations/{ids['notes']}/rollback",
            json={"to": "ver_0000"},
            headers=t.admin,
        ),
        404,
        "to",
    ),
    "rollback without naming a version": (
        lambda h, u, t, ids: h.post(
            f"{u}/v1/installations/{ids['notes']}/rollback", json={}, headers=t.admin
        ),
        400,
        "to",
    ),
    "install of a disabled key": (
        lambda h, u, t, ids: install(h, u, t, "acme-crm"),
        409,
        "extension_key",
    ),
    "credentials the connector rejects": (
        lambda h, u, t, ids: h.put(
            f"{u}/v1/installations/{ids['acme']}/secrets/api_key",
            json={"value": "bad"},
            headers=t.admin,
        ),
        422,
        "api_key",
    ),
    "malformed JSON body": (
        lambda h, u, t, ids: h.post(f"{u}/v1/installations", content=b"{not json", headers=t.admin),
        400,
        None,
    ),
    "promote without an observation version": (
        lambda h, u, t, ids: h.post(f"{u}/v1/extensions/notes/promote", headers=t.admin),
        409,
        "key",
    ),
    "member installing": (
        lambda h, u, t, ids: h.post(
            f"{u}/v1/installations", json={"extension_key": "notes"}, headers=t.member
        ),
        403,
        None,
    ),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_a_rejected_call_names_the_problem_and_changes_nothing(
    case: str, http: httpx.AsyncClient, registry: str, tenant: Tenant, infra: Infra
) -> None:
    await deploy(http, registry, tenant, manifest("notes", config=CONFIG))
    ids = {"notes": (await install(http, registry, tenant, "notes")).json()["id"]}
    ids["acme"] = (await install(http, registry, tenant, "acme-crm")).json()["id"]
    await http.post(f"{registry}/v1/installations/{ids['acme']}/disable", headers=tenant.admin)
    await wait_outbox_drained(infra, tenant.id)
    before = await _world(infra)
    call, status, field = CASES[case]
    response = await call(http, registry, tenant, ids)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["message"]
    if field is not None:
        assert error["field"] == field
    assert await _world(infra) == before
