"""Tickets from the probe provider's paged list API (`?after=<id>`)."""

from sdk import Page


async def fetch(ctx, cursor):
    params = {"limit": 2}
    if cursor:
        params["after"] = cursor
    response = await ctx.http.get("https://api.probe.example/v1/tickets", params=params)
    response.raise_for_status()
    data = response.json()
    records = data["data"]
    return Page(
        records=records,
        next_cursor=records[-1]["id"] if records else cursor,
        has_more=data["has_more"],
    )
