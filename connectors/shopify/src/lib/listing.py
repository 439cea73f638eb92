"""Shopify's REST Admin API as a stream: `page_info` cursors from the Link header.

The cursor is JSON: `page_info` continues the current sweep (Shopify allows only `limit`
beside it), `since` is the `updated_at_min` the sweep started from, `top` the latest
`updated_at` seen in it. When no `rel="next"` link is left the sweep ends and `top` becomes
the next sweep's `since`; Shopify's `updated_at_min` is inclusive, so the boundary object is
read again and dedupes on id + `updated_at`.
"""

from __future__ import annotations

import re

from sdk import Sweep, secrets, settings

API_VERSION = "2024-07"
PAGE_SIZE = 250
_NEXT = re.compile(r'<[^>]*[?&]page_info=([^&>]+)[^>]*>;\s*rel="next"')


def next_page_info(link_header):
    """The `page_info` of the `rel="next"` link, or None on the last page."""
    found = _NEXT.search(link_header or "")
    return found.group(1) if found else None


async def fetch_list(ctx, cursor, resource, transform):
    """One page of `GET /admin/api/{version}/{resource}.json`, transformed."""
    sweep = Sweep.parse(cursor, "page_info")
    shop = settings.get("shop_domain")
    params = {"limit": PAGE_SIZE}
    if sweep.position:
        params["page_info"] = sweep.position
    elif sweep.since:
        params["updated_at_min"] = sweep.since
    response = await ctx.http.get(
        f"https://{shop}/admin/api/{API_VERSION}/{resource}.json",
        params=params,
        headers={"x-shopify-access-token": secrets.get("access_token") or ""},
    )
    response.raise_for_status()
    objects = response.json().get(resource) or []
    records = [transform(obj) for obj in objects]
    stamps = [obj.get("updated_at") for obj in objects]
    return sweep.page(records, stamps, next_page_info(response.headers.get("link")))
