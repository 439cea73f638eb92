"""Reads back what ingress wrote: raw deliveries by offset (records by key: `RecordLedger`).

The topic is the replay store (30 days' retention); Redis history only points into it, so
a raw body is kept once, by Kafka, with the same durability as the 202 that promised it.
"""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, TopicPartition

from contracts.deliveries import DeliveryReceived
from contracts.topics import WEBHOOK_DELIVERIES
from services.base.errors import DependencyUnavailable


class DeliveryReader:
    """Fetches deliveries at known offsets with a short-lived, group-less consumer."""

    def __init__(self, bootstrap_servers: str, timeout_s: float = 10.0) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.timeout_s = timeout_s

    async def fetch(
        self, locations: list[tuple[int, int]]
    ) -> dict[tuple[int, int], DeliveryReceived]:
        """The deliveries at each (partition, offset); missing ones (expired) are left out."""
        if not locations:
            return {}
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            enable_auto_commit=False,
            group_id=None,
            client_id="ingress-replay",
        )
        try:
            await asyncio.wait_for(consumer.start(), self.timeout_s)
            found: dict[tuple[int, int], DeliveryReceived] = {}
            wanted = sorted(set(locations))
            tps = [TopicPartition(WEBHOOK_DELIVERIES.name, p) for p in {p for p, _ in wanted}]
            # An offset outside what the topic holds is gone (retention, or a broker that lost
            # its data): waiting for it would only time out and look like an outage.
            begins = await asyncio.wait_for(consumer.beginning_offsets(tps), self.timeout_s)
            ends = await asyncio.wait_for(consumer.end_offsets(tps), self.timeout_s)
            for partition, offset in wanted:
                tp = TopicPartition(WEBHOOK_DELIVERIES.name, partition)
                if not begins[tp] <= offset < ends[tp]:
                    continue
                consumer.assign([tp])
                consumer.seek(tp, offset)
                record = await asyncio.wait_for(consumer.getone(tp), self.timeout_s)
                if record.offset == offset and record.value is not None:
                    found[(partition, offset)] = WEBHOOK_DELIVERIES.decode(record.value)
            return found
        except TimeoutError as error:
            raise DependencyUnavailable("kafka") from error
        finally:
            await consumer.stop()
