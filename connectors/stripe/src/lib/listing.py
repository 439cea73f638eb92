"""Stripe's list API as a stream: newest first, `starting_after` paging, a `created` watermark.

The cursor is JSON: `since` is the highest `created` of the last finished sweep (the next
sweep asks `created[gt]=since`), `after` is the last id of the page just read within the
current sweep, `top` the highest `created` seen in it. A sweep ends when Stripe says
`has_more: false`; only then does the watermark move, so a crash mid-sweep re-reads pages
(their records dedupe on id + created) instead of skipping objects.
"""

from __future__ import annotations

import json

from sdk import Page, secrets

API = "https://api.stripe.com"
PAGE_SIZE = 100


def _state(cursor):
    if not cursor:
        return {"since": None, "after": None, "top": None}
    state = json.loads(cursor)
    return {"since": state.get("since"), "after": state.get("after"), "top": state.get("top")}


async def fetch_list(ctx, cursor, path, transform):
    """One page of `GET {path}`, transformed; the cursor says where the next page starts."""
    state = _state(cursor)
    params = {"limit": PAGE_SIZE}
    if state["since"] is not None:
        params["created[gt]"] = state["since"]
    if state["after"]:
        params["starting_after"] = state["after"]
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
    top = max([state["top"] or 0, *stamps]) or None
    if body.get("has_more") and objects:
        after = {"since": state["since"], "after": objects[-1]["id"], "top": top}
        return Page(records=records, next_cursor=json.dumps(after), has_more=True)
    since = max(state["since"] or 0, top or 0) or None
    return Page(records=records, next_cursor=json.dumps({"since": since}), has_more=False)
