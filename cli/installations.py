"""`backfill install`, `installations`, `uninstall`, `disable`, `enable`.

Secrets are never taken from the command line (shell history and `ps` would keep them):
`--secret NAME` asks for the value with echo off, or reads one line per `--secret` from
stdin when stdin is not a terminal (`printf '%s\n' "$KEY" | backfill install ...`).
"""

from __future__ import annotations

import json as jsonlib
import sys
from typing import Annotated, Any

import typer

from cli.errors import CliError, ExitCode
from cli.output import (
    JsonOption,
    RegistryOption,
    TokenOption,
    api,
    emit_json,
    err,
    out,
    table,
    when,
)
from cli.versions import confirm

app = typer.Typer()


def _setting(pair: str) -> tuple[str, Any]:
    name, sep, raw = pair.partition("=")
    if not sep or not name:
        raise typer.BadParameter(f"{pair!r} is not k=v", param_hint="--set")
    try:
        return name, jsonlib.loads(raw)
    except ValueError:
        return name, raw


def read_secret(name: str) -> str:
    """One secret value: a no-echo prompt on a terminal, else one line of stdin."""
    if sys.stdin.isatty():
        value = typer.prompt(f"{name} (input hidden)", hide_input=True, err=True)
    else:
        value = sys.stdin.readline().rstrip("\n")
    if not value:
        raise CliError(f"no value for secret {name!r}", ExitCode.USAGE)
    return str(value)


def _state(installation: dict[str, Any]) -> str:
    state = installation["state"]
    if installation.get("observation"):
        state += " (observing)"
    if installation.get("draft"):
        state += " (draft)"
    if installation.get("oauth_status") == "needs_reauth":
        state += " (needs reauth)"
    return state


@app.command()
def install(
    key: Annotated[str, typer.Argument(help="the extension or connector key")],
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="a setting k=v (JSON values allowed)")
    ] = None,
    secret: Annotated[
        list[str] | None, typer.Option("--secret", help="a secret NAME; its value is prompted")
    ] = None,
    connection: Annotated[str, typer.Option(help="connection name")] = "default",
    token: TokenOption = None,
    registry: RegistryOption = None,
    json: JsonOption = False,
) -> None:
    """Install KEY with settings, then store each --secret (prompted, never from argv)."""
    settings = dict(_setting(pair) for pair in set_ or [])
    values = {name: read_secret(name) for name in secret or []}  # ask before changing anything
    client = api(token, registry)
    installation = client.post(
        "registry",
        "/v1/installations/",
        json={"extension_key": key, "connection_name": connection, "settings": settings},
    )
    iid = installation["id"]
    for name, value in values.items():
        client.request(
            "registry", "PUT", f"/v1/installations/{iid}/secrets/{name}", json={"value": value}
        )
    installation = client.get("registry", f"/v1/installations/{iid}")
    if json:
        emit_json(installation)
        return
    out.print(f"installed {key} as {iid}: {_state(installation)}")
    if installation.get("missing_settings"):
        err.print(
            f"  missing settings: {', '.join(installation['missing_settings'])}"
            f" → `backfill install` again with --set/--secret, or the console's Settings tab"
        )
    if installation.get("webhook_url"):
        out.print(f"  webhook URL: {installation['webhook_url']}")


@app.command()
def installations(
    token: TokenOption = None, registry: RegistryOption = None, json: JsonOption = False
) -> None:
    """Every installation of the workspace: extension, connection, version, state."""
    rows = api(token, registry).get("registry", "/v1/installations/")
    if json:
        emit_json(rows)
        return
    table(
        None,
        ["id", "extension", "connection", "kind", "version", "state", "updated"],
        [
            (
                i["id"],
                i["extension_key"],
                i["connection_name"],
                i["kind"],
                (i.get("active") or {}).get("label", "-"),
                _state(i),
                when(i["updated_at"]),
            )
            for i in rows
        ],
    )


def _change(
    installation_id: str, action: str, token: str | None, registry: str | None, json: bool
) -> None:
    client = api(token, registry)
    if action == "uninstall":
        done = client.request("registry", "DELETE", f"/v1/installations/{installation_id}").json()
    else:
        done = client.post("registry", f"/v1/installations/{installation_id}/{action}")
    if json:
        emit_json(done)
    else:
        out.print(f"{installation_id}: {done['state']}")


@app.command()
def uninstall(
    installation_id: Annotated[str, typer.Argument(help="the installation id")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask")] = False,
    token: TokenOption = None,
    registry: RegistryOption = None,
    json: JsonOption = False,
) -> None:
    """Uninstall: settings and secrets are deleted (entities it defined keep their data)."""
    if not yes and not confirm(f"Uninstall {installation_id} and delete its settings and secrets?"):
        raise CliError("not uninstalled", ExitCode.NEEDS_CONFIRMATION, "answer y, or pass --yes")
    _change(installation_id, "uninstall", token, registry, json)


@app.command()
def disable(
    installation_id: Annotated[str, typer.Argument(help="the installation id")],
    token: TokenOption = None,
    registry: RegistryOption = None,
    json: JsonOption = False,
) -> None:
    """Stop hooks, jobs, routes, webhooks and polls; keep the configuration (webhooks are held)."""
    _change(installation_id, "disable", token, registry, json)


@app.command()
def enable(
    installation_id: Annotated[str, typer.Argument(help="the installation id")],
    token: TokenOption = None,
    registry: RegistryOption = None,
    json: JsonOption = False,
) -> None:
    """Resume a disabled installation (held webhooks are processed in order)."""
    _change(installation_id, "enable", token, registry, json)
