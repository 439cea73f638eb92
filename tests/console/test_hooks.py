"""Hooks where an admin looks: the catalog's manifest summary and the Permissions tab."""

from __future__ import annotations

import html
from pathlib import Path

from sdk.bundle import pack
from tests.console.conftest import Suite, token_of
from tests.console.test_routes import browser_like, sign_in
from tests.registry.factories import install

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "deals-guard"
HOOKS = ("deal: before_save (deal-guard)", "deal: after_save (deal-insight)")


async def test_the_catalog_and_the_permissions_tab_list_the_hooks(suite: Suite):
    archive, _ = pack(EXAMPLE)
    deployed = await suite.http.post(
        f"{suite.registry}/v1/extensions/deals-guard/versions",
        content=archive,
        headers={**suite.tenant.admin, "content-type": "application/gzip"},
    )
    assert deployed.status_code in (200, 201), deployed.text
    async with browser_like(suite.console) as client:
        await sign_in(client, token_of(suite.tenant.admin))
        catalog = await client.get("/extensions/catalog/deals-guard")
        assert catalog.status_code == 200
        summary = html.unescape(catalog.text)
        assert "Hooks on writes" in summary and all(hook in summary for hook in HOOKS)
        installed = await install(suite.http, suite.registry, suite.tenant, "deals-guard")
        assert installed.status_code == 201, installed.text
        tab = await client.get(f"/installations/{installed.json()['id']}/permissions")
        assert tab.status_code == 200
        assert all(hook in html.unescape(tab.text) for hook in HOOKS)
