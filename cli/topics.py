"""`backfill topics list|create|doc|tail`: the topic registry, its creation, and a reader.

`tail` reads with a consumer of its own, assigned every partition and committing nothing, so
it never takes messages from a consumer group; order is kept within a partition only.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import Any

import msgspec
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from contracts.topics import TOPICS, Topic

DEFAULT_BOOTSTRAP_SERVERS = "127.0.0.1:19092"


def bootstrap_servers_of(given: str | None) -> str:
    """--bootstrap-servers, else KAFKA_BOOTSTRAP_SERVERS, else the embedded broker of `make run`."""
    return given or os.environ.get("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_BOOTSTRAP_SERVERS)


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

    servers = bootstrap_servers_of(bootstrap_servers)
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


def tail_command(
    name: str,
    bootstrap_servers: str | None,
    from_beginning: bool,
    count: int | None,
    timeout: float | None,
) -> int:
    """Print the messages of topic `name`, one JSON object a line, until count/timeout/Ctrl-C.

    Exits 1 when --count messages did not arrive within --timeout, 2 on an unknown topic.
    """
    topic = next((t for t in TOPICS if t.name == name), None)
    if topic is None:
        known = ", ".join(t.name for t in TOPICS)
        print(f"backfill topics tail: unknown topic {name!r} (known: {known})", file=sys.stderr)
        return 2
    servers = bootstrap_servers_of(bootstrap_servers)
    try:
        deadline = None if timeout is None else time.monotonic() + timeout
        printed = asyncio.run(_tail(topic, servers, from_beginning, count, deadline))
    except KeyboardInterrupt:
        return 0
    except KafkaError as error:
        print(
            f"backfill topics tail: could not read from Kafka at {servers}: {error}",
            file=sys.stderr,
        )
        return 1
    if count is not None and printed < count:
        print(
            f"backfill topics tail: {printed} of {count} message(s) on {name} within {timeout}s",
            file=sys.stderr,
        )
        return 1
    return 0


async def _tail(
    topic: Topic[Any],
    servers: str,
    from_beginning: bool,
    count: int | None,
    deadline: float | None,
) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=servers, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic.name, p) for p in range(topic.partitions)]
        consumer.assign(partitions)
        if from_beginning:
            await consumer.seek_to_beginning(*partitions)
        else:
            await consumer.seek_to_end(*partitions)
        for partition in partitions:  # resolve "end" now, not at the first fetch
            await consumer.position(partition)
        printed = 0
        while count is None or printed < count:
            if deadline is not None and time.monotonic() >= deadline:
                break
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for record in records:
                    if count is not None and printed >= count:
                        break
                    printed += _print_message(topic, record)
        return printed
    finally:
        await consumer.stop()


def _print_message(topic: Topic[Any], record: Any) -> int:
    try:
        message = topic.decode(record.value)
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        print(
            f"backfill topics tail: skipped undecodable message at partition {record.partition}"
            f" offset {record.offset}: {error}",
            file=sys.stderr,
        )
        return 0
    print(msgspec.json.encode(message).decode(), flush=True)
    return 1


def topics_markdown() -> str:
    """The topic registry as the Markdown table in docs/topics.md (a test keeps them equal)."""
    lines = [
        "# Kafka topics",
        "",
        "Generated from `contracts/topics.py` by `backfill topics doc`; a test keeps them equal.",
        "Message types are msgspec Structs in `contracts/`; examples in `contracts/examples/`",
        "(`<topic>.json`, more in `<topic>/`); every example is decoded by the tests.",
        "",
        "Each topic's JSON Schema is committed in `contracts/schemas/<topic>/<n>.json`, one file",
        "per version, never edited. After changing a message type run `make schemas`: it writes",
        "the next version, or refuses (naming the field) a change that is not backward",
        "compatible: a field removed, renamed or retyped, a field added without a default, an",
        "enum value dropped. Such a change is a new `...v2` topic. tests/contracts/test_schemas.py",
        "fails until the latest version is the code's and each version reads the one before.",
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
