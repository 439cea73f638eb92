"""`backfill deploy`: ship a directory as an immutable version.

The manifest is checked locally before anything is uploaded, so a bad field is named at once
(and by the same rules the registry applies). The same directory always packs to the same
bytes, so deploying twice is the same version (the registry answers "already deployed").
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cli.errors import CliError
from cli.output import JsonOption, RegistryOption, TokenOption, api, emit_json, err
from contracts.manifest import ManifestError
from sdk.bundle import BundleError, digest_of, pack, version_id_of
from sdk.define import manifest_from_directory


def deploy(directory: str, mode: str, registry: str | None, token: str | None) -> dict[str, Any]:
    """Pack `directory` and upload it in `mode`; the registry's answer with key and label."""
    root = Path(directory)
    try:
        archive, manifest = pack(root, manifest_from_directory(root))
    except ManifestError as error:
        raise CliError(f"invalid manifest, field {error.field}: {error.message}") from None
    except (BundleError, OSError) as error:
        raise CliError(str(error)) from None
    response = api(token, registry, timeout=60).request(
        "registry",
        "POST",
        f"/v1/extensions/{manifest.key}/versions",
        params={"mode": mode},
        content=archive,
        headers={"content-type": "application/gzip"},
    )
    body = response.json() if response.content else {}
    return {
        "key": manifest.key,
        "label": manifest.version,
        "mode": mode,
        "version_id": body.get("version_id") or version_id_of(digest_of(archive)),
        "created": response.status_code == 201,
        **body,
    }


def register(app: typer.Typer) -> None:
    """Add `deploy` to the CLI."""

    @app.command("deploy")
    def deploy_command(
        directory: Annotated[str, typer.Argument(help="the extension directory")] = ".",
        observe: Annotated[
            bool, typer.Option("--observe", help="run in shadow: writes intercepted")
        ] = False,
        draft: Annotated[
            bool, typer.Option("--draft", help="a draft (`backfill dev` manages drafts for you)")
        ] = False,
        registry: RegistryOption = None,
        token: TokenOption = None,
        json: JsonOption = False,
    ) -> None:
        """Pack a directory and deploy it as an immutable version (prints the version id)."""
        if observe and draft:
            raise typer.BadParameter("choose one of --observe and --draft", param_hint="--draft")
        mode = "observe" if observe else "draft" if draft else "active"
        done = deploy(directory, mode, registry, token)
        if json:
            emit_json(done)
            return
        state = "new version" if done["created"] else "already deployed"
        # The id alone on stdout (scripts capture it); the human summary on stderr.
        err.print(f"{done['key']} {done['label']}: {mode}, {state}")
        typer.echo(done["version_id"])
