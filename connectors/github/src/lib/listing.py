"""GitHub's REST API as a stream: `Link: <…>; rel="next"` paging, an `updated_at` watermark.

The cursor is JSON: `next` is the URL of the following page within the current sweep (taken
verbatim from the Link header, so it is checked against the manifest like any URL), `since`
the watermark the sweep started from, `top` the latest `updated_at` seen in it.
"""

from __future__ import annotations

import json

from sdk import Page, secrets, settings

API = "https://api.github.com"
PAGE_SIZE = 100


def next_link(link_header):
    """The URL of `rel="next"` in a Link header, or None."""
    for part in (link_header or "").split(","):
        url, _, rel = part.partition(";")
        if 'rel="next"' in rel:
            return url.strip().strip("<>")
    return None


async def fetch_list(ctx, cursor, path, params, transform, keep=lambda obj: True):
    """One page of `GET /repos/{repository}/{path}`, transformed."""
    state = json.loads(cursor) if cursor else {}
    repository = settings.get("repository")
    headers = {
        "authorization": f"Bearer {secrets.get('token')}",
        "accept": "application/vnd.github+json",
        "x-github-api-version": "2022-11-28",
    }
    if state.get("next"):
        response = await ctx.http.get(state["next"], headers=headers)
    else:
        query = {**params, "per_page": PAGE_SIZE}
        if state.get("since"):
            query["since"] = state["since"]
        response = await ctx.http.get(
            f"{API}/repos/{repository}/{path}", params=query, headers=headers
        )
    response.raise_for_status()
    objects = [obj for obj in response.json() if keep(obj)]
    records = [transform(obj, repository) for obj in objects]
    stamps = [obj["updated_at"] for obj in objects if obj.get("updated_at")]
    top = max([s for s in (state.get("top"), *stamps) if s], default=None)
    following = next_link(response.headers.get("link"))
    if following:
        state = {"next": following, "since": state.get("since"), "top": top}
        return Page(records=records, next_cursor=json.dumps(state), has_more=True)
    return Page(records=records, next_cursor=json.dumps({"since": top or state.get("since")}))
