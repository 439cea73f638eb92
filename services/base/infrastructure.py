"""The clients of one service process (Redis, Kafka producer, FastStream broker), their lifecycle.

The pieces: `consumers` (`services.base.consumers`: the one way to consume a topic),
`readiness` (`services.base.readiness`: what `/readyz` reports), and this class, which
builds the clients, connects them and stops them.

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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker
from redis.asyncio import Redis

from contracts.topics import Topic
from services.base.consumers import Consumers
from services.base.kafka import create_broker, create_producer, group_timeouts
from services.base.keys import create_redis
from services.base.readiness import Readiness
from services.base.redis_wire import Wire
from services.base.settings import InfraSettings

log = logging.getLogger(__name__)
Hook = Callable[[], Awaitable[None]]
STOP_STEP_S = 60.0  # generous: a consumer leaving a group mid-rebalance can take ~30 s


@dataclass
class Infrastructure:
    """Everything a service talks to; built by `create_app`, handed to routes and subscribers."""

    settings: InfraSettings
    service: str
    redis: Redis
    broker: KafkaBroker
    # The hot path's multiplexed connection to the same node (`services.base.redis_wire`);
    # None on a cluster, where redis-py's pipelines route by slot.
    wire: Wire | None = None
    consumers: Consumers = field(init=False)
    readiness: Readiness = field(default_factory=Readiness)
    _producer: AIOKafkaProducer | None = None
    producer_started: bool = False
    broker_started: bool = False
    # Run once the producer reaches Kafka, each once, before the subscribers start:
    # FastStream's start returns only once its consumer groups are joined (on the embedded
    # broker, half the session timeout), and a follower started by a hook joins its own group
    # meanwhile, not after. So `/readyz` also waits for them (the registry's first publishing),
    # and a hook that keeps failing keeps the subscribers from starting: it is retried.
    after_connect: list[Hook] = field(default_factory=list)
    _connected_hooks: int = field(default=0, init=False)
    # Names of the topics this service publishes: checked against what `contracts.topics`
    # declares for the service (tests/test_layout.py), with `consumers.consumes`.
    publishes: list[str] = field(default_factory=list)
    producer_request_timeout_ms: int = 10_000
    producer_linger_ms: int = 2
    # Awaited at start before anything is served; one that raises stops the service.
    start_checks: list[Hook] = field(default_factory=list)
    _connector: asyncio.Task[None] | None = None

    def __post_init__(self) -> None:
        self.consumers = Consumers(
            self.broker, lambda: self.producer, self.publisher, group_timeouts(self.settings)
        )

    @classmethod
    def create(cls, settings: InfraSettings, service: str) -> Infrastructure:
        """Build (not connect) the clients from settings."""
        redis = create_redis(settings.redis_url, socket_timeout=5, socket_connect_timeout=2)
        return cls(
            settings=settings,
            service=service,
            redis=redis,
            broker=create_broker(settings, service),
            wire=Wire.of(redis),
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
            self.settings,
            self.service,
            request_timeout_ms=self.producer_request_timeout_ms,
            linger_ms=self.producer_linger_ms,
        )
        self._connector = asyncio.create_task(self._connect(), name=f"{self.service}-connect")

    async def _connect(self) -> None:
        delay = 0.2
        while True:
            try:
                if not self.producer_started:
                    await self.producer.start()
                    self.producer_started = True
                while self._connected_hooks < len(self.after_connect):  # each once
                    await self.after_connect[self._connected_hooks]()
                    self._connected_hooks += 1
                if not self.broker_started:
                    await self.broker.start()
                    self.broker_started = True
                return
            except asyncio.CancelledError:
                raise
            except Exception as error:  # any failure: keep trying, /readyz says why
                pending = self.after_connect[self._connected_hooks :]
                if self.producer_started and pending:  # a start-up step, not the connection
                    step = getattr(pending[0], "__qualname__", repr(pending[0]))
                    log.warning(
                        "start-up step failed; retrying", extra={"step": step}, exc_info=error
                    )
                else:
                    log.warning(
                        "waiting for Kafka", extra={"error": repr(error), "retry_in_s": delay}
                    )
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
        if self.wire is not None:
            await bounded_step("close the redis wire", self.wire.aclose())
        await bounded_step("close redis", self.redis.aclose())

    def publisher(self, topic: Topic[Any]) -> None:
        """Declare a topic this service produces (AsyncAPI lists it; the layout test checks it)."""
        if topic.name in self.publishes:
            return
        self.broker.publisher(
            topic.name, title=f"{topic.name} (publish)", description=topic.description
        )
        self.publishes.append(topic.name)

    async def ready(self) -> dict[str, bool]:
        """The readiness report `/readyz` answers (see `services.base.readiness`)."""
        return await self.readiness.report(
            self.redis,
            self._producer if self.producer_started else None,
            lambda: self.broker_started and self.consumers.assigned(),
        )


async def bounded_step(step: str, work: Awaitable[Any]) -> None:
    """Run one shutdown step for at most STOP_STEP_S; log (never raise) when it fails."""
    try:
        await asyncio.wait_for(work, STOP_STEP_S)
    except TimeoutError:
        log.error("shutdown step timed out", extra={"step": step, "timeout_s": STOP_STEP_S})
    except Exception as error:
        log.error("shutdown step failed", extra={"step": step, "error": repr(error)})
