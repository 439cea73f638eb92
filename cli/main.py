"""`backfill` entry point: dispatches sub-commands."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run one sub-command."""
    parser = argparse.ArgumentParser(prog="backfill", description="Backfill extensions platform")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="start the whole suite locally (embedded broker and Valkey)")
    topics = commands.add_parser("topics", help="list or create the topics of the registry")
    topics.add_argument("action", choices=["list", "create", "doc"])
    topics.add_argument(
        "--bootstrap-servers", default=None, help="default: KAFKA_BOOTSTRAP_SERVERS"
    )
    args = parser.parse_args(argv)
    if args.command == "up":
        from cli.up import up

        return up()
    if args.command == "topics":
        from cli.topics import topics_command

        return topics_command(args.action, args.bootstrap_servers)
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
