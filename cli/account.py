"""`backfill login`, `logout` and `whoami`: which workspace the CLI acts in, and as whom."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from cli import config
from cli.errors import CliError, ExitCode
from cli.output import JsonOption, RegistryOption, TokenOption, api, emit_json, err, out

app = typer.Typer()


@app.command()
def login(
    registry: RegistryOption = None,
    ingress: Annotated[str | None, typer.Option(help="ingress URL (webhooks, replay)")] = None,
    logs: Annotated[str | None, typer.Option(help="logs service URL")] = None,
    sync: Annotated[str | None, typer.Option(help="sync service URL")] = None,
    with_token: Annotated[
        bool, typer.Option("--with-token", help="read the token from stdin (for scripts)")
    ] = False,
) -> None:
    """Store an API token and service URLs in your config dir (mode 0600).

    The token is asked for without echo (or read from stdin with --with-token); it is never
    taken from the command line, where shell history and `ps` would keep it. It is checked
    against the registry before it is saved.
    """
    if with_token or not sys.stdin.isatty():
        token = sys.stdin.readline().strip()
    else:
        token = typer.prompt("API token (input hidden)", hide_input=True, err=True).strip()
    if not token:
        raise CliError("no token given", ExitCode.USAGE, "paste a token issued by an admin")
    values = {k: v for k, v in config.stored().items() if k != "token"}
    for name, url in (("registry", registry), ("ingress", ingress), ("logs", logs), ("sync", sync)):
        if url:
            values[f"{name}_url"] = url.rstrip("/")
    target = config.Target(token, "login", config.resolve(None, values.get("registry_url")).urls)
    from cli.api import Api

    workspace = Api(target).get("registry", "/v1/workspace")
    path = config.save({**values, "token": token})
    err.print(f"Signed in to workspace [bold]{workspace['slug']}[/bold]; saved to {path}")


@app.command()
def logout() -> None:
    """Forget the stored token."""
    removed = config.forget()
    err.print("Signed out." if removed else "Not signed in (nothing stored).")


@app.command()
def whoami(
    token: TokenOption = None, registry: RegistryOption = None, json: JsonOption = False
) -> None:
    """Show the workspace, member and role of the token in use, and where it came from."""
    client = api(token, registry)
    me = client.request("registry", "GET", "/v1/me", allow=(404,))
    if me.status_code == 200:
        workspace, member = me.json()["workspace"], me.json()["member"]
    else:  # a registry without /v1/me: the workspace alone
        workspace, member = client.get("registry", "/v1/workspace"), {}
    data = {
        "workspace": workspace,
        "member": member,
        "token_from": client.target.token_source,
        "registry": client.target.url("registry"),
    }
    if json:
        emit_json(data)
        return
    out.print(f"workspace  {workspace['slug']} ({workspace['id']})")
    if member:
        out.print(
            f"member     {member.get('email', '')} ({member.get('id')}), {member.get('role')}"
        )
    out.print(f"token from {client.target.token_source}")
    out.print(f"registry   {client.target.url('registry')}")
