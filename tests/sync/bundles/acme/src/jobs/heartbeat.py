"""A scheduled job: tells the provider it is alive."""

from sdk import secrets


async def run(ctx):
    response = await ctx.http.get(
        "https://api.acme.test/v1/ping",
        headers={"authorization": f"Bearer {secrets.get('access_token')}"},
    )
    response.raise_for_status()
