"""Test connection: the key must read the account it belongs to (`GET /v1/account`)."""

from sdk import ConnectionResult, secrets


async def test_connection(ctx):
    key = secrets.get("api_key")
    if not key:
        return ConnectionResult(ok=False, message="enter the Stripe secret key")
    response = await ctx.http.get(
        "https://api.stripe.com/v1/account", headers={"authorization": f"Bearer {key}"}
    )
    if response.status_code == 401:
        return ConnectionResult(ok=False, message="Stripe rejected the API key")
    if response.status_code != 200:
        return ConnectionResult(ok=False, message=f"Stripe answered {response.status_code}")
    account = response.json()
    name = (account.get("business_profile") or {}).get("name") or account.get("id")
    label = ctx.settings.get("account_label") or "Stripe"
    return ConnectionResult(ok=True, message=f"{label}: connected to {name} ({account.get('id')})")
