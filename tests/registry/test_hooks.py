"""Deploying hooks: subscribing to an entity type needs read access, named in the error."""

from __future__ import annotations

import json

import httpx

from tests.registry.factories import Tenant, deploy, manifest, raw_bundle

HOOK = {"entity": "deal", "events": ["before_save"], "entry": "src/hooks/deals.py"}


async def test_a_hook_without_read_access_is_refused_at_deploy_naming_the_field(
    http: httpx.AsyncClient, registry: str, tenant: Tenant
) -> None:
    unread = manifest("deal-guard", entities=[{"type": "company", "access": "read"}], hooks=[HOOK])
    response = await http.post(  # packed unchecked: the CLI would refuse it before sending
        f"{registry}/v1/extensions/deal-guard/versions",
        content=raw_bundle(json.dumps(unread).encode()),
        headers={**tenant.admin, "content-type": "application/gzip"},
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["field"] == "hooks[0].entity" and "read" in error["message"]
    readable = manifest("deal-guard", entities=[{"type": "deal", "access": "read"}], hooks=[HOOK])
    assert (await deploy(http, registry, tenant, readable)).status_code in (200, 201)
