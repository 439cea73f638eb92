"""Checks the probe credentials against the provider's account endpoint."""

from sdk import ConnectionResult, secrets


async def test_connection(ctx):
    response = await ctx.http.get(
        "https://api.probe.example/v1/account",
        headers={"authorization": f"Bearer {secrets.get('api_key')}"},
    )
    if response.status_code == 200:
        return ConnectionResult(ok=True, message=f"connected to {response.json()['name']}")
    return ConnectionResult(ok=False, message=f"provider answered {response.status_code}")
