"""`backfill routes`: an installation's API route URLs and pages; the dev session's URLs.

Routes are served by ingress under `/ext/<installation>` (`api_key` routes take
`Authorization: Bearer bfk_...`, keys are managed by admins in the registry); a `backfill
dev` session's draft answers under `/ext/<installation>/_dev/<session>` only.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cli.output import JsonOption, RegistryOption, TokenOption, api, emit_json, out, table
from contracts.manifest import Manifest
from sdk.bundle import unpack

app = typer.Typer()


@app.command()
def routes(
    installation_id: Annotated[str, typer.Argument(help="the installation id")],
    token: TokenOption = None,
    registry: RegistryOption = None,
    json: JsonOption = False,
) -> None:
    """The installation's API routes (full URLs, methods, auth) and its pages."""
    client = api(token, registry)
    listing = client.get("ingress", f"/v1/installations/{installation_id}/routes")
    pages = client.get("ingress", f"/v1/installations/{installation_id}/pages")
    base = client.target.url("ingress") + listing["base_path"]
    if json:
        emit_json({**listing, "base_url": base, "pages": pages})
        return
    out.print(f"base URL: {base}  ({listing['state']}, version {listing['version_id']})")
    table(
        None,
        ["methods", "url", "auth"],
        [
            (" ".join(r["methods"]), base + _url_path(r["path"]), r["auth"])
            for r in listing["routes"]
        ],
    )
    if pages:
        out.print("pages (in the console):")
        for page in pages:
            out.print(f"  /installations/{installation_id}/pages/{page['path']}  {page['title']}")


def _url_path(path: str) -> str:
    return "" if path == "/" else path


def print_dev_urls(
    ingress: str, installation_id: str, session_id: str, archive: bytes, manifest: Manifest
) -> None:
    """What a dev session serves: its draft's routes and pages, for this session only."""
    from services.registry.service.route_table import build_route_table

    try:
        found: list[Any] = [
            r for r in build_route_table(unpack(archive), manifest) if not r.webhook
        ]
    except ValueError as error:
        out.print(f"[yellow]routes: {error}[/yellow]")
        found = []
    base = f"{ingress}/ext/{installation_id}/_dev/{session_id}"
    for route in found:
        out.print(f"route {' '.join(route.methods)} {base}{_url_path(route.path)} ({route.auth})")
    for page in manifest.pages:
        out.print(
            f"page {page.title}: /installations/{installation_id}/pages/{page.segment}"
            f"?session={session_id} (in the console, for you only)"
        )
