"""GitHub's REST API as a stream: `Link: <…>; rel="next"` paging, an `updated_at` watermark.

The cursor is JSON: `next` is the URL of the following page within the current sweep (taken
verbatim from the Link header, so it is checked against the manifest like any URL), `since`
the watermark the sweep started from, `top` the latest `updated_at` seen in it.
"""

from __future__ import annotations

from sdk import Sweep, secrets, settings

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
    sweep = Sweep.parse(cursor, "next")
    repository = settings.get("repository")
    headers = {
        "authorization": f"Bearer {secrets.get('token')}",
        "accept": "application/vnd.github+json",
        "x-github-api-version": "2022-11-28",
    }
    if sweep.position:
        response = await ctx.http.get(sweep.position, headers=headers)
    else:
        query = {**params, "per_page": PAGE_SIZE}
        if sweep.since:
            query["since"] = sweep.since
        response = await ctx.http.get(
            f"{API}/repos/{repository}/{path}", params=query, headers=headers
        )
    response.raise_for_status()
    objects = [obj for obj in response.json() if keep(obj)]
    records = [transform(obj, repository) for obj in objects]
    stamps = [obj.get("updated_at") for obj in objects]
    return sweep.page(records, stamps, next_link(response.headers.get("link")))
