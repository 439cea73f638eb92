"""`backfill topics list|create`: print the topic registry or create it (compose init step)."""

from __future__ import annotations

import asyncio
import os
import time

from contracts.topics import TOPICS


def topics_command(action: str, bootstrap_servers: str | None) -> int:
    """Print every topic with its policy, or create the missing ones (waiting for Kafka)."""
    if action == "doc":
        print(topics_markdown(), end="")
        return 0
    if action == "list":
        for topic in TOPICS:
            configs = ",".join(f"{k}={v}" for k, v in sorted(topic.config().items()))
            print(f"{topic.name}\tpartitions={topic.partitions}\t{configs}")
        return 0
    from services.base.kafka import ensure_topics

    servers = bootstrap_servers or os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092")
    deadline = time.monotonic() + 120
    while True:
        try:
            created = asyncio.run(ensure_topics(servers))
            print(f"created {len(created)} topic(s): {', '.join(created) or 'none missing'}")
            return 0
        except Exception as error:
            if time.monotonic() > deadline:
                print(f"backfill topics: could not reach Kafka at {servers}: {error}")
                return 1
            time.sleep(2)


def topics_markdown() -> str:
    """The topic registry as the Markdown table in docs/topics.md (a test keeps them equal)."""
    lines = [
        "# Kafka topics",
        "",
        "Generated from `contracts/topics.py` by `backfill topics doc`; a test keeps them equal.",
        "Message types are msgspec Structs in `contracts/`; examples in `contracts/examples/`.",
        "",
        "| topic | message | key | partitions | cleanup | retention | producers | consumers |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for t in TOPICS:
        retention = f"{t.retention_ms // 86_400_000} d" if t.retention_ms else "forever"
        lines.append(
            f"| `{t.name}` | `{t.message.__name__}` | {t.key} | {t.partitions} | {t.cleanup_policy}"
            f" | {retention} | {', '.join(t.producers)} | {', '.join(t.consumers)} |"
        )
    lines += ["", "## What each topic carries", ""]
    lines += [f"- `{t.name}`: {t.description}" for t in TOPICS]
    return "\n".join(lines) + "\n"
