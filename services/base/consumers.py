"""The one way a service consumes a topic: decode, run the step, commit, park only the invalid.

Every consumer here is FastStream with `AckPolicy.ACK`: an offset is committed only after
the step returned (commit after processing), so a crash redelivers and steps stay
idempotent. What happens when a step does not return (as arroyo does it):

- a message that does not decode with its topic's Struct, or that the step declares
  invalid by raising `InvalidMessage`, can never be processed: it is parked on the
  dead-letter topic with its origin and the reason, then committed, so one bad message
  never stops a partition;
- any other failure (a dependency down, a timeout, a bug that a deploy will fix) says
  nothing against the message: it is held, uncommitted, and the step retried with backoff
  (0.2 s doubling up to `max_backoff_s`, 5 s) until it returns. The first failure and every
  60th are logged.

Single messages (`subscribe`) and batches (`subscribe_batch`) run their steps through the
same `run_step`, so both behave alike.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import partial
from typing import Any, Literal, TypeVar

import msgspec
from aiokafka import AIOKafkaProducer
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.kafka.subscriber.usecase import LogicSubscriber

from contracts.topics import DEAD_LETTERS, Topic
from services.base.errors import DependencyUnavailable, InvalidMessage
from services.base.kafka import consumers_assigned, dead_letter

log = logging.getLogger(__name__)
M = TypeVar("M", bound=msgspec.Struct)
OffsetReset = Literal["latest", "earliest", "none"]
MAX_BACKOFF_S = 5.0


class Consumers:
    """The service's subscribers on its FastStream broker, and the topics they read."""

    def __init__(
        self,
        broker: KafkaBroker,
        producer: Callable[[], AIOKafkaProducer],
        declare_publisher: Callable[[Topic[Any]], None],
        group_timeouts: Mapping[str, int],
    ) -> None:
        self.broker = broker
        self.group_timeouts = dict(group_timeouts)
        self._producer = producer
        self._declare_publisher = declare_publisher
        self.subscribers: list[LogicSubscriber[Any]] = []
        self.max_backoff_s = MAX_BACKOFF_S  # the longest wait between two tries of a held step
        # Topics this service reads (checked against `contracts.topics` by tests/test_layout.py).
        self.consumes: list[str] = []

    def subscribe(
        self,
        topic: Topic[M],
        group_id: str,
        step: Callable[[M], Awaitable[None]],
        *,
        auto_offset_reset: OffsetReset = "earliest",
    ) -> LogicSubscriber[Any]:
        """Consume `topic` as `group_id` one message at a time; commit after `step` returns."""
        self._declare_dead_letters()

        async def consume(message: KafkaMessage) -> None:
            raw = message.raw_message
            try:
                decoded = topic.decode(message.body)
            except (msgspec.DecodeError, msgspec.ValidationError) as error:
                await dead_letter(self._producer(), topic, group_id, raw, str(error))
                return
            await self.run_step(topic, group_id, lambda: step(decoded), [raw])

        consume.__name__ = f"consume_{_identifier(topic.name)}"
        consume.__doc__ = topic.description
        subscriber = self.broker.subscriber(
            topic.name,
            group_id=group_id,
            ack_policy=AckPolicy.ACK,
            auto_offset_reset=auto_offset_reset,
            session_timeout_ms=self.group_timeouts["session_timeout_ms"],
            heartbeat_interval_ms=self.group_timeouts["heartbeat_interval_ms"],
            title=f"{topic.name} ({group_id})",
            description=topic.description,
        )
        subscriber(consume)
        self.consumes.append(topic.name)
        self.subscribers.append(subscriber)
        return subscriber

    def subscribe_batch(
        self,
        group_id: str,
        steps: Mapping[Topic[Any], Callable[[list[Any]], Awaitable[None]]],
        *,
        max_records: int = 1_000,
        batch_timeout_ms: int = 50,
        auto_offset_reset: OffsetReset = "earliest",
    ) -> LogicSubscriber[Any]:
        """One consumer for several topics; each step gets its topic's part of a batch.

        A batch is up to `max_records` messages; its part for each topic is decoded and
        handed to that topic's step (one storage write per topic and batch) in the order of
        `steps`. Offsets are committed after every step returned; a crash mid-batch
        redelivers all of it. Tombstones (deletions on a compacted topic) are skipped. A part
        its step declares invalid is parked whole. One consumer instead of one per topic:
        each consumer joining a group costs seconds on some brokers.
        """
        by_name = {topic.name: topic for topic in steps}
        self._declare_dead_letters()

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
                    await dead_letter(self._producer(), topic, group_id, raw, str(error))
            for topic, step in steps.items():
                part = parts[topic.name]
                if part:
                    await self.run_step(topic, group_id, partial(step, part), raws[topic.name])

        consume.__name__ = f"consume_{_identifier(group_id)}_batch"
        consume.__doc__ = "; ".join(topic.description for topic in steps)
        subscriber = self.broker.subscriber(
            *by_name,
            group_id=group_id,
            batch=True,
            # The step decodes each record with its topic's Struct; FastStream's own decoder
            # would JSON-parse every record of the batch a second time, for nothing.
            decoder=_raw_batch,
            max_records=max_records,
            batch_timeout_ms=batch_timeout_ms,
            ack_policy=AckPolicy.ACK,
            auto_offset_reset=auto_offset_reset,
            session_timeout_ms=self.group_timeouts["session_timeout_ms"],
            heartbeat_interval_ms=self.group_timeouts["heartbeat_interval_ms"],
            title=f"{', '.join(by_name)} ({group_id})",
            description=consume.__doc__,
        )
        subscriber(consume)
        self.consumes.extend(by_name)
        self.subscribers.append(subscriber)
        return subscriber

    def reader(self, topic: Topic[Any]) -> None:
        """Declare a topic this service reads without a consumer group (from offsets it chooses).

        For example the snapshot follower, which rebuilds its view from the start of the
        compacted topic on every start, and ingress' replays at known offsets.
        """
        self.consumes.append(topic.name)

    def assigned(self) -> bool:
        """True once every subscriber's consumer has joined its group and holds partitions."""
        return consumers_assigned(self.subscribers)

    async def run_step(
        self,
        topic: Topic[Any],
        group_id: str,
        step: Callable[[], Awaitable[None]],
        raws: Sequence[Any],
    ) -> None:
        """Run `step` until it returns (held on failure) or declares its messages invalid."""
        failures = 0
        while True:
            try:
                await step()
                if failures:
                    log.warning("step succeeded after holding", extra={"topic": topic.name})
                return
            except InvalidMessage as invalid:
                for raw in raws:
                    await dead_letter(self._producer(), topic, group_id, raw, str(invalid))
                return
            except Exception as error:  # held, never parked: nothing says the message is bad
                failures += 1
                if failures == 1 or failures % 60 == 0:
                    log.warning(
                        "step failed; message held and retried",
                        exc_info=not isinstance(error, DependencyUnavailable),
                        extra={
                            "topic": topic.name,
                            "group_id": group_id,
                            "failures": failures,
                            "error": repr(error),
                        },
                    )
                await asyncio.sleep(min(0.1 * 2 ** min(failures, 6), self.max_backoff_s))

    def _declare_dead_letters(self) -> None:
        self._declare_publisher(DEAD_LETTERS)  # where invalid messages are parked


def _identifier(name: str) -> str:
    return name.replace(".", "_").replace("-", "_")


async def _raw_batch(message: Any) -> Any:
    """A batch decoder that decodes nothing (subscribe_batch decodes from raw records)."""
    return None
