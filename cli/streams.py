"""`backfill streams`, `sync` and `cursor history|restore`: a connector's polled streams.

Against the sync service's routes (docs/http-api.md): per-stream status, a run now (`full`:
the sync service drops the cursor first, a full resync), the cursor history and restoring an earlier
cursor. Runs and restores are admin-only and audited by the sync service. Restoring a cursor
re-reads records already ingested; they are deduplicated, so nothing is counted twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.text import Text

from cli.errors import CliError, ExitCode
from cli.output import (
    JsonOption,
    RegistryOption,
    TokenOption,
    YesOption,
    api,
    emit_json,
    err,
    out,
    table,
    when,
)
from cli.versions import confirm

if TYPE_CHECKING:
    from cli.api import Api

app = typer.Typer()
cursor_app = typer.Typer(help="A stream's cursor history, and restoring an earlier cursor.")
STATE_STYLE = {
    "ok": "green",
    "running": "cyan",
    "error": "red",
    "backing_off": "yellow",
    "needs_reauth": "red",
}


def _streams(client: Api, installation: str) -> list[dict[str, Any]]:
    body = client.get("sync", f"/v1/installations/{installation}/streams")
    return list(body["streams"])  # a StreamList (contracts.answers.sync)


@app.command()
def streams(
    installation: Annotated[str, typer.Argument(help="the installation id")],
    token: TokenOption = None,
    registry: RegistryOption = None,
    json: JsonOption = False,
) -> None:
    """Per-stream status: state, last run and success, records, cursor, errors, next run."""
    rows = _streams(api(token, registry), installation)
    if json:
        emit_json(rows)
        return
    table(
        f"{installation}: {len(rows)} stream(s)",
        [
            "stream",
            "state",
            "last run",
            "last success",
            "records (last/total)",
            "cursor",
            "errors",
            "next run",
            "webhook gap",
        ],
        [
            (
                s["stream"]
                + ("" if s.get("kind", "stream") == "stream" else f" ({s['kind']})")
                + ("" if s.get("mode", "active") == "active" else f" ({s['mode']})"),
                Text(s["state"], style=STATE_STYLE.get(s["state"], "")),
                when(s.get("last_run_at")),
                when(s.get("last_success_at")),
                f"{s.get('records_last_run', 0)}/{s.get('records_total', 0)}",
                (s.get("cursor") or "")[:24],
                f"{s.get('error_count', 0)}"
                + (
                    f" ({s['consecutive_failures']} in a row)"
                    if s.get("consecutive_failures")
                    else ""
                ),
                when(s.get("next_run_at")),
                s.get("webhook_gap") or "",
            )
            for s in rows
        ],
    )
    for s in rows:
        if current_error(s):
            mode = "" if s.get("mode", "active") == "active" else f" ({s['mode']})"
            err.print(f"  {s['stream']}{mode}: last error: {escape(s['last_error'])}")


def current_error(status: dict[str, Any]) -> bool:
    """Whether a stream's last error still stands: a success since means it recovered."""
    if not status.get("last_error"):
        return False
    succeeded, failed = status.get("last_success_at"), status.get("last_error_at")
    return succeeded is None or failed is None or failed > succeeded


@app.command()
def sync(
    installation: Annotated[str, typer.Argument(help="the installation id")],
    stream: Annotated[
        list[str] | None, typer.Option("--stream", help="only this stream (repeatable)")
    ] = None,
    full: Annotated[
        bool, typer.Option("--full", help="drop the cursor first: a full resync")
    ] = False,
    yes: YesOption = False,
    token: TokenOption = None,
    registry: RegistryOption = None,
    json: JsonOption = False,
) -> None:
    """Run streams now (all, or --stream S); --full resyncs from the beginning."""
    client = api(token, registry)
    names = stream or [
        s["stream"] for s in _streams(client, installation) if s.get("kind", "stream") == "stream"
    ]
    if not names:
        raise CliError(f"{installation} has no streams", ExitCode.NOT_FOUND)
    if (
        full
        and not yes
        and not confirm(f"Drop the cursor of {', '.join(names)} and re-read everything?")
    ):
        raise CliError("not resynced", ExitCode.NEEDS_CONFIRMATION, "answer y, or pass --yes")
    results = {}
    for name in names:
        path = f"/v1/installations/{installation}/streams/{name}/run"
        results[name] = client.post("sync", path, json={"full": full})
        if not json:
            out.print(f"{name}: {'full resync' if full else 'run'} started")
    if json:
        emit_json(results)


@cursor_app.command("history")
def cursor_history(
    installation: Annotated[str, typer.Argument(help="the installation id")],
    stream: Annotated[str, typer.Argument(help="the stream name")],
    token: TokenOption = None,
    registry: RegistryOption = None,
    json: JsonOption = False,
) -> None:
    """Every committed cursor of a stream, newest first (run, time, pages, records)."""
    body = api(token, registry).get(
        "sync", f"/v1/installations/{installation}/streams/{stream}/cursors"
    )
    entries = list(body["entries"])  # a CursorHistory (contracts.answers.sync)
    if json:
        emit_json(entries)
        return
    table(
        f"{installation} {stream}: cursor history",
        ["entry", "at", "action", "run", "by", "pages", "records", "cursor"],
        [
            (
                e.get("entry_id"),
                when(e.get("at")),
                e.get("action", "run"),
                e.get("run_id"),
                e.get("actor"),
                e.get("pages"),
                e.get("records"),
                e.get("cursor"),
            )
            for e in entries
        ],
    )


@cursor_app.command("restore")
def cursor_restore(
    installation: Annotated[str, typer.Argument(help="the installation id")],
    stream: Annotated[str, typer.Argument(help="the stream name")],
    entry: Annotated[str, typer.Argument(help="a history entry id (`backfill cursor history`)")],
    yes: YesOption = False,
    token: TokenOption = None,
    registry: RegistryOption = None,
    json: JsonOption = False,
) -> None:
    """Set a stream's cursor back to an earlier entry (re-read records are deduplicated)."""
    if not yes and not confirm(f"Restore the cursor of {stream} to {entry}?"):
        raise CliError("not restored", ExitCode.NEEDS_CONFIRMATION, "answer y, or pass --yes")
    done = api(token, registry).post(
        "sync", f"/v1/installations/{installation}/streams/{stream}/cursors/{entry}/restore"
    )
    if json:
        emit_json(done)
    else:
        out.print(f"{stream}: cursor restored to {entry}; the next run reads from there")
