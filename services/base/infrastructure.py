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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker
from faststream.kafka.subscriber.usecase import LogicSubscriber
from redis.asyncio import Redis

from services.base.kafka import consumers_assigned, create_broker, create_producer
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
    _producer: AIOKafkaProducer | None = None
    subscribers: list[LogicSubscriber[Any]] = field(default_factory=list)
    producer_started: bool = False
    broker_started: bool = False
    after_connect: list[Hook] = field(default_factory=list)
    # Service-specific readiness conditions (e.g. a local view caught up), named in /readyz.
    ready_checks: dict[str, Callable[[], bool]] = field(default_factory=dict)
    producer_request_timeout_ms: int = 10_000
    _connector: asyncio.Task[None] | None = None

    @classmethod
    def create(cls, settings: InfraSettings, service: str) -> Infrastructure:
        """Build (not connect) the clients from settings."""
        return cls(
            settings=settings,
            service=service,
            redis=Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=2),
            broker=create_broker(settings, service),
        )

    @property
    def producer(self) -> AIOKafkaProducer:
        """The hot-path producer; exists from `start()` on (aiokafka binds it to the loop)."""
        if self._producer is None:
            raise RuntimeError("infrastructure not started")
        return self._producer

    async def start(self) -> None:
        """Connect in the background until Kafka answers; then run the `after_connect` hooks."""
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


async def bounded_step(step: str, work: Awaitable[Any]) -> None:
    """Run one shutdown step for at most STOP_STEP_S; log (never raise) when it fails."""
    try:
        await asyncio.wait_for(work, STOP_STEP_S)
    except TimeoutError:
        log.error("shutdown step timed out", extra={"step": step, "timeout_s": STOP_STEP_S})
    except Exception as error:
        log.error("shutdown step failed", extra={"step": step, "error": repr(error)})
