"""Registry lists are paged: at most `limit` items (≤ 500), a `Link: rel="next"` to the rest."""

from __future__ import annotations

import httpx

from tests.registry.factories import Tenant


async def test_members_are_read_page_by_page_following_the_link_header(
    http: httpx.AsyncClient, registry: str, tenant: Tenant
) -> None:
    for n in range(5):
        added = await http.post(
            f"{registry}/v1/members", json={"email": f"p{n}@example.com"}, headers=tenant.admin
        )
        assert added.status_code == 201
    everyone = (await http.get(f"{registry}/v1/members", headers=tenant.admin)).json()
    assert len(everyone) == 7  # the bootstrap admin, the tenant's member, five more

    pages = []
    url = f"{registry}/v1/members?limit=3"
    while url:
        response = await http.get(url, headers=tenant.admin)
        assert response.status_code == 200
        pages.append(response.json())
        link = response.headers.get("link")
        url = f"{registry}{link.split('>')[0].lstrip('<')}" if link else ""
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [m["id"] for p in pages for m in p] == [m["id"] for m in everyone]


async def test_a_page_larger_than_the_maximum_is_400_naming_limit(
    http: httpx.AsyncClient, registry: str, tenant: Tenant
) -> None:
    for path in ("/v1/members", "/v1/tokens", "/v1/installations", "/v1/catalog"):
        response = await http.get(f"{registry}{path}?limit=501", headers=tenant.admin)
        assert response.status_code == 400, path
        assert response.json()["error"]["field"] == "limit"


async def test_an_unknown_after_is_400_naming_after(
    http: httpx.AsyncClient, registry: str, tenant: Tenant
) -> None:
    response = await http.get(f"{registry}/v1/installations?after=inst_nope", headers=tenant.admin)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "after"
