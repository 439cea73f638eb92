"""The ledger that settles an uncertain dedupe key, against the session's real broker."""

from __future__ import annotations

import asyncio
import time
import uuid

from aiokafka import AIOKafkaProducer

from contracts.records import CanonicalRecord
from contracts.topics import CANONICAL_RECORDS
from services.base.dedupe import RecordLedger
from tests.harness import Infra


def record(installation_id: str, n: int) -> CanonicalRecord:
    return CanonicalRecord(
        idempotency_key=f"evt_{n}:customer",
        workspace_id="ws_ledger",
        installation_id=installation_id,
        extension_key="stripe",
        version_id="ver_1",
        canonical_type="customer",
        payload={"id": f"cus_{n}"},
        source="stream",
        source_id=f"evt_{n}",
        emitted_at=time.time(),
    )


async def test_every_record_of_a_page_written_as_one_batch_is_found(infra: Infra) -> None:
    """A sync page goes out as one batch, and the embedded broker reports that batch's end as
    one past its first record: the scan must read whole batches, not stop at that offset."""
    installation_id = f"inst_{uuid.uuid4().hex[:8]}"
    since_ms = int(time.time() * 1000) - 1_000
    page = [record(installation_id, n) for n in range(5)]
    producer = AIOKafkaProducer(bootstrap_servers=infra.bootstrap_servers, linger_ms=100)
    await producer.start()
    try:
        acks = [await CANONICAL_RECORDS.send(producer, r) for r in page]
        offsets = [meta.offset for meta in await asyncio.gather(*acks)]
    finally:
        await producer.stop()
    assert offsets == list(range(offsets[0], offsets[0] + 5))  # one batch, in order

    ledger = RecordLedger(infra.bootstrap_servers)
    for r in page:
        assert await ledger.contains(installation_id, r.idempotency_key, since_ms)
    assert not await ledger.contains(installation_id, "evt_never:customer", since_ms)
