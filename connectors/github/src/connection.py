"""Test connection: the token must read the configured repository."""

from sdk import ConnectionResult, secrets


async def test_connection(ctx):
    repository = ctx.settings.get("repository") or ""
    if repository.count("/") != 1:
        return ConnectionResult(ok=False, message="repository must be owner/name")
    response = await ctx.http.get(
        f"https://api.github.com/repos/{repository}",
        headers={
            "authorization": f"Bearer {secrets.get('token')}",
            "accept": "application/vnd.github+json",
        },
    )
    if response.status_code in (401, 403):
        return ConnectionResult(ok=False, message="GitHub rejected the token")
    if response.status_code == 404:
        return ConnectionResult(
            ok=False, message=f"{repository} not found (or not visible to the token)"
        )
    if response.status_code != 200:
        return ConnectionResult(ok=False, message=f"GitHub answered {response.status_code}")
    return ConnectionResult(ok=True, message=f"connected to {response.json().get('full_name')}")
