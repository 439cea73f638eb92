"""`backfill deploy`: ship a directory as an immutable version.

The manifest is checked locally before anything is uploaded, so a bad field is named at once
(and by the same rules the registry applies). The same directory always packs to the same
bytes, so deploying twice is the same version.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import httpx
import typer

from contracts.manifest import ManifestError
from sdk.bundle import BundleError, digest_of, pack, version_id_of
from sdk.define import manifest_from_directory

DEFAULT_REGISTRY = "http://127.0.0.1:8001"
TOKEN_FILE = Path(".backfill") / "admin-token"


def registry_url(given: str | None) -> str:
    """--registry, else BACKFILL_REGISTRY_URL, else the local default."""
    return (given or os.environ.get("BACKFILL_REGISTRY_URL") or DEFAULT_REGISTRY).rstrip("/")


def token_of(given: str | None) -> str | None:
    """--token, else BACKFILL_TOKEN, else `.backfill/admin-token` (written by `backfill up`)."""
    if given:
        return given
    if os.environ.get("BACKFILL_TOKEN"):
        return os.environ["BACKFILL_TOKEN"]
    return TOKEN_FILE.read_text().strip() if TOKEN_FILE.exists() else None


def _fail(message: str) -> int:
    print(f"backfill: {message}", file=sys.stderr)
    return 1


def _error_text(response: httpx.Response) -> str:
    try:
        error = response.json().get("error", {})
        return f"{error.get('code', response.status_code)}: {error.get('message', response.text)}"
    except ValueError:
        return f"{response.status_code}: {response.text[:200]}"


def deploy(directory: str, mode: str, registry: str | None, token: str | None) -> int:
    """Pack `directory`, upload it in `mode`, print the version id."""
    root = Path(directory)
    try:
        manifest = manifest_from_directory(root)
        archive, manifest = pack(root, manifest)
    except ManifestError as error:
        return _fail(f"invalid manifest, field {error.field}: {error.message}")
    except (BundleError, OSError) as error:
        return _fail(str(error))
    bearer = token_of(token)
    if not bearer:
        return _fail("no token: pass --token, set BACKFILL_TOKEN or run `backfill up`")
    url = f"{registry_url(registry)}/v1/extensions/{manifest.key}/versions"
    try:
        response = httpx.post(
            url,
            params={"mode": mode},
            content=archive,
            headers={"content-type": "application/gzip", "authorization": f"Bearer {bearer}"},
            timeout=60,
        )
    except httpx.HTTPError as error:
        return _fail(f"registry unreachable at {url}: {type(error).__name__}")
    if response.status_code not in (200, 201):
        return _fail(f"deploy refused ({_error_text(response)})")
    body = response.json()
    version_id = body.get("version_id") or version_id_of(digest_of(archive))
    state = "new version" if response.status_code == 201 else "already deployed"
    # The id alone on stdout (scripts capture it); the human summary on stderr.
    print(f"{manifest.key} {manifest.version}: {mode}, {state}", file=sys.stderr)
    print(version_id)
    return 0


RegistryOption = Annotated[
    str | None, typer.Option("--registry", help="registry URL (default: BACKFILL_REGISTRY_URL)")
]
TokenOption = Annotated[
    str | None, typer.Option("--token", help="API token (default: BACKFILL_TOKEN)")
]


def register(app: typer.Typer) -> None:
    """Add `deploy` to the CLI."""

    @app.command("deploy")
    def deploy_command(
        directory: Annotated[str, typer.Argument(help="the extension directory")] = ".",
        observe: Annotated[
            bool, typer.Option("--observe", help="run in shadow: writes intercepted")
        ] = False,
        draft: Annotated[
            bool, typer.Option("--draft", help="a draft for your dev session")
        ] = False,
        registry: RegistryOption = None,
        token: TokenOption = None,
    ) -> None:
        """Pack a directory and deploy it as an immutable version (prints the version id)."""
        if observe and draft:
            raise typer.BadParameter("choose one of --observe and --draft", param_hint="--draft")
        mode = "observe" if observe else "draft" if draft else "active"
        raise typer.Exit(deploy(directory, mode, registry, token))
