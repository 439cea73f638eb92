"""Stripe's list API as a stream: newest first, `starting_after` paging, a `created` watermark.

The cursor is JSON: `since` is the highest `created` of the last finished sweep (the next
sweep asks `created[gt]=since`), `after` is the last id of the page just read within the
current sweep, `top` the highest `created` seen in it. A sweep ends when Stripe says
`has_more: false`; only then does the watermark move, so a crash mid-sweep re-reads pages
(their records dedupe on id + created) instead of skipping objects.
"""

from __future__ import annotations

from sdk import Sweep, secrets

API = "https://api.stripe.com"
PAGE_SIZE = 100


async def fetch_list(ctx, cursor, path, transform):
    """One page of `GET {path}`, transformed; the cursor says where the next page starts."""
    sweep = Sweep.parse(cursor, "after")
    params = {"limit": PAGE_SIZE}
    if sweep.since is not None:
        params["created[gt]"] = sweep.since
    if sweep.position:
        params["starting_after"] = sweep.position
    response = await ctx.http.get(
        f"{API}{path}",
        params=params,
        headers={"authorization": f"Bearer {secrets.get('api_key')}"},
    )
    response.raise_for_status()
    body = response.json()
    objects = body.get("data") or []
    records = [transform(obj) for obj in objects]
    stamps = [obj["created"] for obj in objects if isinstance(obj.get("created"), int)]
    following = objects[-1]["id"] if body.get("has_more") and objects else None
    return sweep.page(records, stamps, following)
