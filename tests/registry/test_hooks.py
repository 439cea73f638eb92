"""Deploying hooks: read access on the entity type, and a function for every declared event."""

from __future__ import annotations

import json

import httpx

from tests.registry.factories import Tenant, manifest, raw_bundle
from tests.registry.test_deploy_check import code_bundle, post

HOOK = {"entity": "deal", "events": ["before_save", "after_save"], "entry": "src/hooks/deals.py"}
BOTH = (
    "def before_save(ctx, record, previous):\n    pass\n\n\ndef after_save(ctx, r, p):\n    pass\n"
)


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


async def test_a_hook_file_must_export_a_function_for_each_declared_event(
    http: httpx.AsyncClient, registry: str, tenant: Tenant
) -> None:
    data = manifest(
        "deal-hooks", entities=[{"type": "deal", "access": "read"}], hooks=[HOOK], pages=[], ui=[]
    )
    only_one = {"src/hooks/deals.py": "def before_save(ctx, record, previous):\n    pass\n"}
    refused = await post(
        http, registry, tenant, "deal-hooks", code_bundle(data, only_one), "active"
    )
    assert refused.status_code == 422, refused.text
    [problem] = refused.json()["error"]["details"]["problems"]
    assert problem["file"] == "src/hooks/deals.py"
    assert "after_save(ctx, record, previous)" in problem["message"]
    files = {"src/hooks/deals.py": BOTH}
    accepted = await post(http, registry, tenant, "deal-hooks", code_bundle(data, files), "active")
    assert accepted.status_code in (200, 201), accepted.text
