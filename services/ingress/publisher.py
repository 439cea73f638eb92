"""Kafka out on the hot path: raw deliveries and canonical records through aiokafka directly.

`publish` hands every message to the producer at once (they batch together; ingress lingers
0 ms, a batch fills while the previous request is in flight) and returns only when the
broker acknowledged all of them (`acks=all`); if any is not acknowledged within the timeout
it raises `DependencyUnavailable` and the caller answers 503.
Records of one installation share its partition, so they stay in order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.structs import RecordMetadata

from contracts.deliveries import DeliveryReceived
from contracts.records import CanonicalRecord
from contracts.topics import CANONICAL_RECORDS, WEBHOOK_DELIVERIES, Topic
from services.base.errors import DependencyUnavailable


class DeliveryPublisher:
    """Publishes one delivery and its records, awaiting every acknowledgement."""

    def __init__(self, producer: Callable[[], AIOKafkaProducer], timeout_s: float) -> None:
        self.producer = producer
        self.timeout_s = timeout_s
        self._background: set[asyncio.Future[None]] = set()

    async def publish(
        self, delivery: DeliveryReceived | None, records: list[CanonicalRecord]
    ) -> RecordMetadata | None:
        """Send all, await all acks; return where the raw delivery landed (partition, offset).

        On timeout the error carries the records' still-pending acks (`unsettled`).
        """
        messages: list[tuple[Topic[Any], Any]] = []
        if delivery is not None:
            messages.append((WEBHOOK_DELIVERIES, delivery))
        messages += [(CANONICAL_RECORDS, record) for record in records]
        pending: list[asyncio.Future[RecordMetadata]] = []
        try:
            # One deadline for handing over and acks; no task per publish (`asyncio.timeout`),
            # and waiting never cancels the producer's own futures.
            async with asyncio.timeout(self.timeout_s):
                await self._send_all(messages, pending)
                if pending:
                    await asyncio.wait(pending)
            acks = [ack.result() for ack in pending]
        except Exception as error:  # not started, timed out, broker error: nothing promised
            for ack in pending:  # their outcome is read by `settle`, or deliberately not
                ack.add_done_callback(_ignore)
            unsettled = pending[1:] if delivery is not None else pending
            raise DependencyUnavailable("kafka", unsettled) from error
        return acks[0] if delivery is not None else None

    async def _send_all(
        self,
        messages: list[tuple[Topic[Any], Any]],
        pending: list[asyncio.Future[RecordMetadata]],
    ) -> None:
        """Hand every message to the producer (batched by it); collect their ack futures."""
        producer = self.producer()
        for topic, m in messages:
            pending.append(await topic.send(producer, m))

    def record_rejection(self, delivery: DeliveryReceived) -> None:
        """Record a rejected delivery without waiting: a 401 promises no durability."""
        task = asyncio.ensure_future(self._send_quietly(delivery))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _send_quietly(self, delivery: DeliveryReceived) -> None:
        pending: list[asyncio.Future[RecordMetadata]] = []
        try:
            async with asyncio.timeout(30):
                await self._send_all([(WEBHOOK_DELIVERIES, delivery)], pending)
                await asyncio.wait(pending)
            pending[0].result()
        except Exception:
            pass  # best effort: the rejection is also counted in webhook health


def _ignore(future: asyncio.Future[object]) -> None:
    if not future.cancelled():
        future.exception()
