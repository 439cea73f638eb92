"""Acme customers: Stripe-like paging with the connection's OAuth access token."""

from sdk import Page, secrets


async def fetch(ctx, cursor):
    params = {"limit": 100}
    if cursor:
        params["starting_after"] = cursor
    response = await ctx.http.get(
        "https://api.acme.test/v1/customers",
        params=params,
        headers={"authorization": f"Bearer {secrets.get('access_token')}"},
    )
    response.raise_for_status()
    body = response.json()
    records = body["data"]
    last = records[-1]["id"] if records else cursor
    return Page(records=records, next_cursor=last, has_more=bool(body.get("has_more")))
