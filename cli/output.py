"""What commands print: Rich tables and colours for people, JSON for scripts (`--json`).

Data goes to stdout; progress, prompts and the human summary of a scripted result go to
stderr, so `backfill ... --json | jq` always reads one JSON document.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Iterable, Sequence
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from cli.config import resolve
from cli.errors import CliError

# Piped output is not cut to 80 columns: tables stay readable in files and CI logs.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 200)

JsonOption = Annotated[bool, typer.Option("--json", help="print JSON for scripts")]
RegistryOption = Annotated[
    str | None,
    typer.Option("--registry", help="registry URL (default: BACKFILL_REGISTRY_URL or login)"),
]
TokenOption = Annotated[
    str | None,
    typer.Option("--token", help="API token (default: BACKFILL_TOKEN or `backfill login`)"),
]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="do not ask; for scripts")]


def emit_json(data: Any) -> None:
    """One JSON document on stdout."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    sys.stdout.flush()


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A Rich table on stdout (None cells print empty)."""
    grid = Table(title=title, title_justify="left", header_style="bold")
    for column in columns:
        grid.add_column(column)
    for row in rows:
        # Data is never markup: a cursor like "[abc]" prints as is. Styled cells come as Text.
        grid.add_row(
            *(
                cell if isinstance(cell, Text) else Text("" if cell is None else str(cell))
                for cell in row
            )
        )
    out.print(grid)


def when(at: float | None) -> str:
    """A timestamp as local `YYYY-MM-DD HH:MM:SS`."""
    if not at:
        return ""
    return dt.datetime.fromtimestamp(at).strftime("%Y-%m-%d %H:%M:%S")


def report(error: CliError) -> None:
    """Print a CliError the way every command does."""
    err.print(f"[red]backfill:[/red] {escape(error.message)}")
    if error.hint:
        err.print(f"  [dim]→ {escape(error.hint)}[/dim]")


def api(token: str | None, registry: str | None = None, timeout: float = 30.0) -> Any:
    """An Api for the resolved target (imported late: keeps `--help` fast)."""
    from cli.api import Api

    return Api(resolve(token, registry), timeout)
