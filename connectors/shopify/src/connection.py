"""Test connection: the token must read the shop (`GET /admin/api/{version}/shop.json`)."""

from sdk import ConnectionResult, secrets

from .lib.listing import API_VERSION


async def test_connection(ctx):
    shop = ctx.settings.get("shop_domain") or ""
    if not shop.endswith(".myshopify.com"):
        return ConnectionResult(
            ok=False, message="shop domain must look like your-store.myshopify.com"
        )
    response = await ctx.http.get(
        f"https://{shop}/admin/api/{API_VERSION}/shop.json",
        headers={"x-shopify-access-token": secrets.get("access_token") or ""},
    )
    if response.status_code in (401, 403):
        return ConnectionResult(ok=False, message="Shopify rejected the access token")
    if response.status_code != 200:
        return ConnectionResult(ok=False, message=f"Shopify answered {response.status_code}")
    name = (response.json().get("shop") or {}).get("name") or shop
    return ConnectionResult(ok=True, message=f"connected to {name}")
