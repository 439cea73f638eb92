"""The clients of one service process (Redis, Kafka producer, FastStream broker), their lifecycle.

Start never blocks on an unreachable dependency: the service comes up, `/healthz` answers, and
`/readyz` stays red until Kafka and Redis answer and every consumer holds its partitions.
Stop drains in order: subscribers first (each commits the offset of the message it finished),
then the producer is flushed, then Redis is closed. Each step is bounded (`STOP_STEP_S`): a
broker that stopped answering mid-rebalance must not keep a stopping process alive forever;
the step that ran out of time is logged and the next one still runs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import msgspec
from aiokafka import AIOKafkaProducer
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.kafka.subscriber.usecase import LogicSubscriber
from redis.asyncio import Redis

from contracts.topics import DEAD_LETTERS, Topic
from services.base.errors import DependencyUnavailable
from services.base.kafka import consumers_assigned, create_broker, create_producer, dead_letter
from services.base.keys import create_redis
from services.base.settings import InfraSettings

log = logging.getLogger(__name__)
Hook = Callable[[], Awaitable[None]]
M = TypeVar("M", bound=msgspec.Struct)
STOP_STEP_S = 60.0  # generous: a consumer leaving a group mid-rebalance can take ~30 s


@dataclass
class Infrastructure:
    """Everything a service talks to; built by `create_app`, handed to routes and subscribers."""

    settings: InfraSettings
    service: str
    redis: Redis
    broker: KafkaBroker
    _producer: AIOKafkaProducer | None = None
    subscribers: list[LogicSubscriber[Any]] = field(default_factory=list)
    producer_started: bool = False
    broker_started: bool = False
    after_connect: list[Hook] = field(default_factory=list)
    # Service-specific readiness conditions (e.g. a local view caught up), named in /readyz.
    ready_checks: dict[str, Callable[[], bool]] = field(default_factory=dict)
    # Names of the topics this service subscribes to and publishes: checked against what
    # `contracts.topics` declares for the service (tests/test_layout.py).
    consumes: list[str] = field(default_factory=list)
    publishes: list[str] = field(default_factory=list)
    producer_request_timeout_ms: int = 10_000
    # Awaited at start before anything is served; one that raises stops the service.
    start_checks: list[Hook] = field(default_factory=list)
    # Conditions an operator must know about (development-only modes), shown by /readyz.
    warnings: list[str] = field(default_factory=list)
    _connector: asyncio.Task[None] | None = None

    @classmethod
    def create(cls, settings: InfraSettings, service: str) -> Infrastructure:
        """Build (not connect) the clients from settings."""
        return cls(
            settings=settings,
            service=service,
            redis=create_redis(settings.redis_url, socket_timeout=5, socket_connect_timeout=2),
            broker=create_broker(settings, service),
        )

    @property
    def producer(self) -> AIOKafkaProducer:
        """The hot-path producer; exists from `start()` on (aiokafka binds it to the loop)."""
        if self._producer is None:
            raise RuntimeError("infrastructure not started")
        return self._producer

    async def start(self) -> None:
        """Run the start checks, then connect in the background until Kafka answers."""
        for check in self.start_checks:
            await check()
        self._producer = create_producer(
            self.settings, self.service, request_timeout_ms=self.producer_request_timeout_ms
        )
        self._connector = asyncio.create_task(self._connect(), name=f"{self.service}-connect")

    async def _connect(self) -> None:
        delay = 0.2
        while True:
            try:
                if not self.producer_started:
                    await self.producer.start()
                    self.producer_started = True
                if not self.broker_started:
                    await self.broker.start()
                    self.broker_started = True
                for hook in self.after_connect:
                    await hook()
                return
            except asyncio.CancelledError:
                raise
            except Exception as error:  # any connection failure: keep trying, /readyz says why
                log.warning("waiting for Kafka", extra={"error": repr(error), "retry_in_s": delay})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def stop(self) -> None:
        """Stop consuming (committing finished offsets), flush the producer, close Redis."""
        if self._connector is not None and not self._connector.done():
            self._connector.cancel()
            await bounded_step(
                "stop connecting", asyncio.gather(self._connector, return_exceptions=True)
            )
        await bounded_step("stop consumers", self.broker.stop())
        if self._producer is not None:  # flushes pending batches; safe if never started
            await bounded_step("flush producer", self._producer.stop())
        await bounded_step("close redis", self.redis.aclose())

    def subscribe(
        self,
        topic: Topic[M],
        group_id: str,
        handler: Callable[[M], Awaitable[None]],
        *,
        auto_offset_reset: Literal["latest", "earliest", "none"] = "earliest",
        attempts: int = 5,
    ) -> LogicSubscriber[Any]:
        """Consume `topic` as `group_id`, decoding with its Struct; commit after `handler` returns.

        A handler that raises is retried with backoff (transient Redis or Kafka errors); after
        `attempts` failures the message is parked on the dead-letter topic with the error, then
        committed. A process that dies mid-handler commits nothing: the message is redelivered.
        The subscriber counts toward the service's readiness (its consumer must hold partitions).
        """

        async def consume(message: KafkaMessage) -> None:
            raw = message.raw_message
            try:
                decoded = topic.decode(message.body)
            except (msgspec.DecodeError, msgspec.ValidationError) as error:
                await dead_letter(self.producer, topic, group_id, raw, str(error))
                return
            for attempt in range(1, attempts + 1):
                try:
                    await handler(decoded)
                    return
                except Exception as error:  # a failing handler must not commit its message silently
                    if attempt == attempts:
                        log.exception("handler failed; message parked on dead-letter topic")
                        await dead_letter(self.producer, topic, group_id, raw, repr(error))
                        return
                    await asyncio.sleep(min(0.1 * 2 ** min(attempt, 6), 5.0))

        consume.__name__ = f"consume_{topic.name.replace('.', '_').replace('-', '_')}"
        consume.__doc__ = topic.description
        subscriber = self.broker.subscriber(
            topic.name,
            group_id=group_id,
            ack_policy=AckPolicy.ACK,
            auto_offset_reset=auto_offset_reset,
            title=f"{topic.name} ({group_id})",
            description=topic.description,
        )
        subscriber(consume)
        self.consumes.append(topic.name)
        if DEAD_LETTERS.name not in self.publishes:  # where `consume` parks what it cannot take
            self.publisher(DEAD_LETTERS)
        self.subscribers.append(subscriber)
        return subscriber

    def reader(self, topic: Topic[Any]) -> None:
        """Declare a topic this service reads without a consumer group (from offsets it chooses).

        For example ingress' snapshot view, rebuilt from the start of the compacted topic on
        every start, and its replay reads at known offsets. The layout test checks it.
        """
        self.consumes.append(topic.name)

    def subscribe_batch(
        self,
        group_id: str,
        handlers: Mapping[Topic[Any], Callable[[list[Any]], Awaitable[None]]],
        *,
        max_records: int = 1_000,
        batch_timeout_ms: int = 50,
        auto_offset_reset: Literal["latest", "earliest", "none"] = "earliest",
        attempts: int = 5,
    ) -> LogicSubscriber[Any]:
        """One consumer for several topics; each handler gets its topic's part of a batch.

        A batch is up to `max_records` messages; its part for each topic is decoded and handed
        to that topic's handler (one storage write per topic and batch) in the order of
        `handlers`. Offsets are committed after every handler returned (commit after
        processing); a crash mid-batch redelivers all of it, so handlers stay idempotent.
        Tombstones (deletions on a compacted topic) are skipped. Undecodable messages are
        parked on the dead-letter topic and left out; a part whose
        handler fails `attempts` times is parked whole, unless it failed because a dependency
        is down (`DependencyUnavailable`): an outage is not a bad batch, so the part is
        retried (backoff up to 5 s) until the dependency answers, its offsets uncommitted.
        One consumer instead of one per topic: each consumer joining a group costs seconds on
        some brokers.
        """
        by_name = {topic.name: topic for topic in handlers}
        if DEAD_LETTERS.name not in self.publishes:  # where `consume` parks what it cannot take
            self.publisher(DEAD_LETTERS)

        async def consume(message: KafkaMessage) -> None:
            records = message.raw_message if isinstance(message.raw_message, tuple) else ()
            parts: dict[str, list[Any]] = {name: [] for name in by_name}
            raws: dict[str, list[Any]] = {name: [] for name in by_name}
            for raw in records:
                if raw.value is None:
                    continue  # a tombstone: a compacted topic's deletion, nothing to store
                topic = by_name[raw.topic]
                try:
                    parts[raw.topic].append(topic.decode(raw.value or b""))
                    raws[raw.topic].append(raw)
                except (msgspec.DecodeError, msgspec.ValidationError) as error:
                    await dead_letter(self.producer, topic, group_id, raw, str(error))
            for topic, handler in handlers.items():
                if parts[topic.name]:
                    await self._handle_part(
                        topic, group_id, handler, parts[topic.name], raws[topic.name], attempts
                    )

        consume.__name__ = f"consume_{group_id.replace('.', '_').replace('-', '_')}_batch"
        consume.__doc__ = "; ".join(topic.description for topic in handlers)
        subscriber = self.broker.subscriber(
            *by_name,
            group_id=group_id,
            batch=True,
            # The handler decodes each record with its topic's Struct; FastStream's own decoder
            # would JSON-parse every record of the batch a second time, for nothing.
            decoder=_raw_batch,
            max_records=max_records,
            batch_timeout_ms=batch_timeout_ms,
            ack_policy=AckPolicy.ACK,
            auto_offset_reset=auto_offset_reset,
            title=f"{', '.join(by_name)} ({group_id})",
            description=consume.__doc__,
        )
        subscriber(consume)
        self.consumes.extend(by_name)
        self.subscribers.append(subscriber)
        return subscriber

    async def _handle_part(
        self,
        topic: Topic[Any],
        group_id: str,
        handler: Callable[[list[Any]], Awaitable[None]],
        part: list[Any],
        raws: list[Any],
        attempts: int,
    ) -> None:
        attempt = outage = 0
        while True:
            try:
                await handler(part)
                if outage:
                    log.warning("dependency back; batch stored", extra={"topic": topic.name})
                return
            except DependencyUnavailable as error:  # held, never parked: nothing is wrong with it
                outage += 1
                if outage == 1 or outage % 60 == 0:
                    log.warning(
                        "dependency unavailable; batch held until it answers",
                        extra={"topic": topic.name, "dependency": error.dependency},
                    )
                await asyncio.sleep(min(0.1 * 2 ** min(outage, 6), 5.0))
            except Exception as error:  # a failing handler must not commit its batch silently
                attempt += 1
                if attempt >= attempts:
                    log.exception("batch handler failed; batch parked on dead-letter topic")
                    for raw in raws:
                        await dead_letter(self.producer, topic, group_id, raw, repr(error))
                    return
                await asyncio.sleep(min(0.1 * 2 ** min(attempt, 6), 5.0))

    def publisher(self, topic: Topic[Any]) -> None:
        """Declare a topic this service produces (AsyncAPI lists it; the layout test checks it)."""
        self.broker.publisher(
            topic.name, title=f"{topic.name} (publish)", description=topic.description
        )
        self.publishes.append(topic.name)

    async def readiness(self) -> dict[str, bool]:
        """Per dependency: Redis PING, Kafka metadata, consumers assigned, plus `ready_checks`."""
        checks = {"redis": False, "kafka": False, "consumers": False}
        try:
            checks["redis"] = bool(await asyncio.wait_for(self.redis.ping(), 2))
        except Exception:
            checks["redis"] = False
        if self.producer_started:
            try:
                await asyncio.wait_for(self.producer.client.fetch_all_metadata(), 2)
                checks["kafka"] = True
            except Exception:
                checks["kafka"] = False
        checks["consumers"] = self.broker_started and consumers_assigned(self.subscribers)
        for name, check in self.ready_checks.items():
            checks[name] = check()
        return checks


async def _raw_batch(message: Any) -> Any:
    """A batch decoder that decodes nothing (subscribe_batch decodes from raw records)."""
    return None


async def bounded_step(step: str, work: Awaitable[Any]) -> None:
    """Run one shutdown step for at most STOP_STEP_S; log (never raise) when it fails."""
    try:
        await asyncio.wait_for(work, STOP_STEP_S)
    except TimeoutError:
        log.error("shutdown step timed out", extra={"step": step, "timeout_s": STOP_STEP_S})
    except Exception as error:
        log.error("shutdown step failed", extra={"step": step, "error": repr(error)})
