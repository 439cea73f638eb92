"""`backfill` entry point: dispatches sub-commands."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run one sub-command."""
    parser = argparse.ArgumentParser(prog="backfill", description="Backfill extensions platform")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="start the whole suite locally (embedded broker and Valkey)")
    kafka = argparse.ArgumentParser(add_help=False)
    kafka.add_argument("--bootstrap-servers", default=None, help="default: KAFKA_BOOTSTRAP_SERVERS")
    topics = commands.add_parser("topics", help="the topic registry; create or read topics")
    actions = topics.add_subparsers(dest="action", required=True)
    actions.add_parser("list", help="print every topic with its policy")
    actions.add_parser("create", parents=[kafka], help="create the missing topics")
    actions.add_parser("doc", help="print docs/topics.md")
    tail = actions.add_parser("tail", parents=[kafka], help="print a topic's messages as JSON")
    tail.add_argument("topic", help="a topic name, e.g. ingest.canonical.v1")
    tail.add_argument("--from-beginning", action="store_true", help="default: new messages only")
    tail.add_argument("--count", type=int, default=None, help="stop after N messages")
    tail.add_argument("--timeout", type=float, default=None, help="stop after S seconds")
    deploy = commands.add_parser("deploy", help="pack a directory and deploy it as a version")
    deploy.add_argument("directory", nargs="?", default=".")
    modes = deploy.add_mutually_exclusive_group()
    modes.add_argument("--observe", action="store_true", help="run in shadow: writes intercepted")
    modes.add_argument("--draft", action="store_true", help="a draft for your dev session")
    deploy.add_argument("--registry", default=None, help="default: BACKFILL_REGISTRY_URL")
    deploy.add_argument("--token", default=None, help="default: BACKFILL_TOKEN")
    promote = commands.add_parser("promote", help="make the observation version active")
    promote.add_argument("key")
    promote.add_argument("--registry", default=None, help="default: BACKFILL_REGISTRY_URL")
    promote.add_argument("--token", default=None, help="default: BACKFILL_TOKEN")
    args = parser.parse_args(argv)
    if args.command == "deploy":
        from cli.deploy import deploy as deploy_command

        mode = "observe" if args.observe else "draft" if args.draft else "active"
        return deploy_command(args.directory, mode, args.registry, args.token)
    if args.command == "promote":
        from cli.deploy import promote as promote_command

        return promote_command(args.key, args.registry, args.token)
    if args.command == "up":
        from cli.up import up

        return up()
    if args.command == "topics":
        from cli.topics import tail_command, topics_command

        if args.action == "tail":
            return tail_command(
                args.topic, args.bootstrap_servers, args.from_beginning, args.count, args.timeout
            )
        return topics_command(args.action, getattr(args, "bootstrap_servers", None))
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
