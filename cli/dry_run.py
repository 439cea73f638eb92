"""`backfill run NAME --dev`: the running `backfill dev` draft's stream or job, once, now.

Nango's dry run for this platform: the sync service runs the draft of this directory's dev
session (`draft` mode: every record is intercepted, the cursor is not stored, nothing is
written) and answers page by page; this prints each record, the cursor it started from and
the one it would move to. A draft the sync service has not seen yet is retried for a while.
"""

from __future__ import annotations

import json as jsonlib
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from cli.errors import CliError, ExitCode
from cli.output import JsonOption, RegistryOption, TokenOption, api, emit_json, err, out
from cli.trigger import dev_session

app = typer.Typer()
WAIT_S = 30


@app.command("run")
def run(
    name: Annotated[str, typer.Argument(help="a stream or job of the draft's manifest")],
    dev: Annotated[
        bool, typer.Option("--dev", help="run this directory's `backfill dev` draft")
    ] = False,
    directory: Annotated[Path, typer.Option("--dir", help="the extension directory")] = Path("."),
    cursor: Annotated[str | None, typer.Option(help="start here (default: the beginning)")] = None,
    pages: Annotated[int, typer.Option(help="read up to N pages while the stream has more")] = 1,
    token: TokenOption = None,
    registry: RegistryOption = None,
    json: JsonOption = False,
) -> None:
    """Run the dev draft's stream or job once: records intercepted and shown, nothing committed."""
    if not dev:
        raise typer.BadParameter(
            "only a dev draft runs on demand here; for an installation use `backfill sync`",
            param_hint="--dev",
        )
    session = dev_session(directory.resolve(), "installation_id")
    client = api(token, registry)
    path = f"/v1/installations/{session['installation_id']}/streams/{name}/dry-run"
    body = {"session": session["session_id"], "cursor": cursor, "pages": pages}
    deadline = time.monotonic() + WAIT_S
    while True:
        response = client.request("sync", "POST", path, json=body, allow=(409,), timeout=120)
        if response.status_code != 409:
            break
        if time.monotonic() > deadline:  # the draft never reached the sync service
            raise CliError(response.json()["error"]["message"], ExitCode.FAILED)
        time.sleep(0.5)
    result: dict[str, Any] = response.json()
    if json:
        emit_json(result)
    else:
        _print(result)
    if any(page["outcome"] != "ok" for page in result["pages"]):
        raise typer.Exit(ExitCode.FAILED)


def _print(result: dict[str, Any]) -> None:
    out.print(
        f"dry run of {result['kind']} {result['name']} (draft {result['version_id']}): "
        "nothing is written, no cursor moves"
    )
    total = 0
    for number, page in enumerate(result["pages"], 1):
        out.print(
            f"page {number}: cursor {page['cursor'] or '(start)'} → "
            f"{page['next_cursor'] or '(none)'}, has_more={page['has_more']}, "
            f"{page['outcome']}"
        )
        if page.get("error"):
            err.print(f"  [red]error:[/red] {escape(page['error'])}")
        for record in page["records"]:
            total += 1
            payload = jsonlib.dumps(record["payload"], sort_keys=True)
            out.print(
                f"  WOULD-WRITE {record['canonical_type']} {record['idempotency_key']} "
                f"{escape(payload[:200])}"
            )
    out.print(f"{total} record(s) intercepted")
