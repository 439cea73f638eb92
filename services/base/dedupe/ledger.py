"""Answers "was this canonical record written after all?" for the *uncertain* dedupe state."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.partitioner import DefaultPartitioner

from contracts.topics import CANONICAL_RECORDS


class RecordLedger:
    """Scans the installation's partition of the canonical topic, from a time, for one key.

    Records are keyed by installation id, so one partition holds all of an installation's
    records; the scan starts at the offset of `since_ms` and stops at the end offset seen when
    it started. A short-lived group-less consumer: nothing is committed.
    """

    def __init__(
        self, bootstrap_servers: str, timeout_s: float = 10.0, *, client_id: str = "dedupe-ledger"
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.timeout_s = timeout_s
        self.client_id = client_id

    async def contains(self, installation_id: str, idempotency_key: str, since_ms: int) -> bool:
        """True if a canonical record with this key was written at or after `since_ms`."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            enable_auto_commit=False,
            group_id=None,
            client_id=self.client_id,
        )
        await asyncio.wait_for(consumer.start(), self.timeout_s)
        try:
            partitions = sorted(consumer.partitions_for_topic(CANONICAL_RECORDS.name) or [])
            key = installation_id.encode()
            tp = TopicPartition(
                CANONICAL_RECORDS.name, DefaultPartitioner()(key, partitions, partitions)
            )
            consumer.assign([tp])
            found = await consumer.offsets_for_times({tp: since_ms})
            end = (await consumer.end_offsets([tp]))[tp]
            if found.get(tp) is None:
                return False
            consumer.seek(tp, found[tp].offset)
            needle = idempotency_key.encode()
            while await consumer.position(tp) < end:
                batch = await asyncio.wait_for(consumer.getmany(tp, timeout_ms=500), self.timeout_s)
                for record in batch.get(tp, []):
                    if record.key == key and record.value and needle in record.value:
                        if (
                            CANONICAL_RECORDS.decode(record.value).idempotency_key
                            == idempotency_key
                        ):
                            return True
            return False
        finally:
            await consumer.stop()
