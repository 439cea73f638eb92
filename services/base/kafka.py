"""Kafka clients with the suite's guarantees: acks=all producers, commit-after-processing consumers.

Producers are plain aiokafka (the hot path: FastStream's publish costs twice the CPU).
Subscribers are FastStream with `AckPolicy.ACK`: the offset is committed only after the
handler returned, so a crash replays the message and every handler must be idempotent.
Consuming (what is committed, held or parked) is `services.base.consumers`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, TypeVar
from urllib.parse import unquote

import msgspec
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from faststream.kafka import KafkaBroker
from faststream.kafka.subscriber.usecase import LogicSubscriber

from contracts.deadletter import DeadLetter
from contracts.topics import BY_NAME, DEAD_LETTERS, TOPICS, Topic
from services.base.settings import InfraSettings

log = logging.getLogger(__name__)
M = TypeVar("M", bound=msgspec.Struct)
TOPIC_ALREADY_EXISTS = 36
# How long a snapshot follower's fetch may wait at the broker for new records. Kafka answers a
# waiting fetch as soon as records arrive; the embedded broker answers only when the wait ends,
# so this wait *is* the cutover latency there (aiokafka's default 500 ms: a rollback reached
# ingress ≈ 250 ms after the registry answered). Snapshots are rare and small: 50 ms.
SNAPSHOT_FETCH_WAIT_MS = 50


def create_producer(
    infra: InfraSettings,
    client_id: str,
    *,
    request_timeout_ms: int = 10_000,
    linger_ms: int = 2,
) -> AIOKafkaProducer:
    """A producer that answers only once every in-sync replica has the record (acks=all).

    `request_timeout_ms` bounds how long a send waits for the broker before failing;
    `linger_ms` how long a batch waits for more messages before it is sent (aiokafka keeps
    one request in flight per broker, so under load batches fill while one is in flight
    whatever this is).
    """
    return AIOKafkaProducer(
        bootstrap_servers=infra.kafka_bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=infra.kafka_enable_idempotence,
        linger_ms=linger_ms,
        max_batch_size=512 * 1024,
        request_timeout_ms=request_timeout_ms,
        retry_backoff_ms=100,
    )


def group_timeouts(infra: InfraSettings) -> dict[str, int]:
    """aiokafka's consumer group timeouts from the settings (a heartbeat every third)."""
    session = infra.kafka_session_timeout_ms
    return {"session_timeout_ms": session, "heartbeat_interval_ms": max(session // 3, 100)}


def create_broker(infra: InfraSettings, client_id: str) -> KafkaBroker:
    """A FastStream broker for subscribers (and AsyncAPI); never used on a hot publish path."""
    return KafkaBroker(
        infra.kafka_bootstrap_servers,
        client_id=client_id,
        logger=logging.getLogger(f"faststream.{client_id}"),
        log_level=logging.DEBUG,
    )


async def publish(producer: AIOKafkaProducer, topic: Topic[M], message: M) -> None:
    """Send one message and wait for the broker's acknowledgement."""
    await (await topic.send(producer, message))


async def dead_letter(
    producer: AIOKafkaProducer, topic: Topic[Any], group_id: str, raw: Any, error: str
) -> None:
    """Park a message its consumer could not use on the dead-letter topic, with its origin."""
    log.error(
        "message parked on dead-letter topic",
        extra={
            "topic": raw.topic,
            "partition": raw.partition,
            "offset": raw.offset,
            "error": error,
        },
    )
    letter = DeadLetter(
        source_topic=raw.topic,
        partition=raw.partition,
        offset=raw.offset,
        consumer_group=group_id,
        key=raw.key,
        value=raw.value or b"",
        error=error[:1000],
        at=time.time(),
    )
    await publish(producer, DEAD_LETTERS, letter)


async def publish_all(producer: AIOKafkaProducer, topic: Topic[M], messages: list[M]) -> None:
    """Send every message (one batch where they fit), then wait until the broker acked all."""
    await asyncio.gather(*[await topic.send(producer, m) for m in messages])


def consumers_assigned(subscribers: list[LogicSubscriber[Any]]) -> bool:
    """True once every subscriber's consumer has joined its group and holds partitions."""
    for subscriber in subscribers:
        consumer = getattr(subscriber, "consumer", None)
        if consumer is None or not consumer.assignment():
            return False
    return True


async def ensure_topics(
    bootstrap_servers: str, topics: tuple[Topic[Any], ...] = TOPICS
) -> list[str]:
    """Create each missing registry topic with its partitions and configs; return those created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="backfill-admin")
    await admin.start()
    try:
        response = await admin.create_topics(
            [
                NewTopic(
                    t.name,
                    num_partitions=t.partitions,
                    replication_factor=1,
                    topic_configs=t.config(),
                )
                for t in topics
            ]
        )
        created = []
        for name, code, message in response.topic_errors:
            if code == 0:
                created.append(name)
            elif code != TOPIC_ALREADY_EXISTS:
                raise RuntimeError(f"could not create topic {name}: {message} (error {code})")
        return created
    finally:
        await admin.close()


def asyncapi_document(broker: KafkaBroker, title: str, version: str) -> dict[str, Any]:
    """FastStream's AsyncAPI 3 document with each payload replaced by the topic's msgspec schema."""
    from faststream.specification import AsyncAPI

    document: dict[str, Any] = (
        AsyncAPI(broker, title=title, version=version).to_specification().to_jsonable()
    )
    components = document.setdefault("components", {})
    messages = components.setdefault("messages", {})
    schemas = components.setdefault("schemas", {})
    structs = {t.name: t.message for t in TOPICS}
    (refs, defs) = msgspec.json.schema_components(
        list(structs.values()), ref_template="#/components/schemas/{name}"
    )
    schemas.update(defs)
    ref_of = dict(zip(structs, refs, strict=True))
    for channel in document.get("channels", {}).values():
        topic = BY_NAME.get(channel.get("address", ""))
        if topic is None:
            continue
        for ref in channel.get("messages", {}).values():
            name = unquote(ref["$ref"].rsplit("/", 1)[-1])
            if name in messages:
                messages[name]["payload"] = ref_of[topic.name]
                messages[name]["name"] = topic.message.__name__
    used = {m["payload"].get("$ref", "").rsplit("/", 1)[-1] for m in messages.values()}
    for key in [k for k, v in schemas.items() if v == {} or (k not in used and k not in defs)]:
        schemas.pop(key)
    return document
