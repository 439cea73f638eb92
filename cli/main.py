"""`backfill` entry point: the Typer app every sub-command hangs off.

Command modules keep heavy imports (HTTP client, Kafka, file watching) inside the commands
that need them, so `--help` and completion stay quick. Exit codes mean the same thing
everywhere (see `cli.errors.ExitCode`): 0 done, 1 refused or failed, 2 bad usage, 3 not
signed in or not allowed, 4 not found, 5 a service unreachable, 6 a confirmation was needed
and not given.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from cli import (
    account,
    dev,
    dry_run,
    installations,
    logs,
    replay,
    routes,
    scaffold,
    streams,
    trigger,
    versions,
)
from cli import deploy as deploy_commands
from cli.errors import CliError
from cli.output import report

_typed = typer.core.TyperOption.display_type_rich


def _flag_shows_no_type(self: typer.core.TyperOption, ctx: typer.Context) -> str | None:
    """A flag takes no value, so help shows no `<bool>` beside it (typer 0.29 printed one)."""
    return None if self.is_flag else _typed(self, ctx)


typer.core.TyperOption.display_type_rich = _flag_shows_no_type  # type: ignore[method-assign]

app = typer.Typer(
    name="backfill",
    help="Backfill extensions platform: run the suite, develop, deploy and operate extensions.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
topics_app = typer.Typer(help="The Kafka topic registry: list, create, document, tail.")
app.add_typer(topics_app, name="topics")
app.add_typer(streams.cursor_app, name="cursor")

BootstrapServers = Annotated[
    str | None, typer.Option(help="Kafka bootstrap servers (default: KAFKA_BOOTSTRAP_SERVERS)")
]


@app.command()
def up(
    valkey_cluster: Annotated[
        int,
        typer.Option(
            help="Start a Valkey Cluster of N nodes instead of one Valkey "
            "(default: BACKFILL_VALKEY_CLUSTER, 0 = one node)",
            min=0,
        ),
    ] = 0,
) -> None:
    """Start the whole suite locally (embedded broker and Valkey); Ctrl-C stops it."""
    import os

    from cli.up import up as run_suite

    env = dict(os.environ)
    if valkey_cluster:
        env["BACKFILL_VALKEY_CLUSTER"] = str(valkey_cluster)
    raise typer.Exit(run_suite(env))


@topics_app.command("list")
def topics_list() -> None:
    """Print every topic with its partitions and policy."""
    from cli.topics import topics_command

    raise typer.Exit(topics_command("list", None))


@topics_app.command("create")
def topics_create(bootstrap_servers: BootstrapServers = None) -> None:
    """Create the missing topics (waits up to 2 minutes for Kafka)."""
    from cli.topics import topics_command

    raise typer.Exit(topics_command("create", bootstrap_servers))


@topics_app.command("doc")
def topics_doc() -> None:
    """Print docs/topics.md, generated from contracts/topics.py."""
    from cli.topics import topics_command

    raise typer.Exit(topics_command("doc", None))


@topics_app.command("tail")
def topics_tail(
    topic: Annotated[str, typer.Argument(help="a topic name, e.g. ingest.canonical.v1")],
    bootstrap_servers: BootstrapServers = None,
    from_beginning: Annotated[bool, typer.Option(help="default: new messages only")] = False,
    count: Annotated[int | None, typer.Option(help="stop after N messages")] = None,
    timeout: Annotated[float | None, typer.Option(help="stop after S seconds")] = None,
) -> None:
    """Print a topic's messages as JSON, one a line (exit 1 if --count did not arrive)."""
    from cli.topics import tail_command

    raise typer.Exit(tail_command(topic, bootstrap_servers, from_beginning, count, timeout))


deploy_commands.register(app)
for module in (
    account,
    scaffold,
    dev,
    dry_run,
    trigger,
    logs,
    versions,
    replay,
    installations,
    streams,
    routes,
):
    app.registered_commands += module.app.registered_commands


def main(argv: list[str] | None = None) -> int:
    """Run one sub-command; return its exit code."""
    try:
        app(args=argv, prog_name="backfill")
    except CliError as error:
        report(error)
        return int(error.code)
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
