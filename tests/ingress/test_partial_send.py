"""A delivery whose records are sent only in part: nothing lost, nothing written twice.

The handler emits three records, the last larger than Kafka accepts: the first two are handed
to the producer (and acknowledged), the third never is, and the delivery is answered 503. The provider's retry (the same event, now
within limits) must write the two missing records and must not write the first again.
"""

from __future__ import annotations

import msgspec

from contracts.topics import CANONICAL_RECORDS
from tests.harness import read_topic
from tests.ingress.conftest import Ingress
from tests.ingress.factories import deploy, installation, signed, stripe_event

LARGE, TOO_LARGE = 400_000, 2 * 1024 * 1024  # a producer request holds at most 1 MiB


async def test_a_partly_sent_delivery_is_completed_once_by_its_retry(ingress: Ingress) -> None:
    snapshot = await ingress.install(installation(await deploy(ingress.redis), ingress.keyring))
    event = stripe_event("test.partial", pads=[LARGE, LARGE, TOO_LARGE])
    first = await ingress.deliver(snapshot, *signed(event))
    assert first.status_code == 503, first.text
    assert "kafka" in msgspec.json.decode(first.content)["error"]["message"]

    # The retry writes only the third (the first two are found written), nothing twice.
    retried = await ingress.deliver(snapshot, *signed({**event, "pads": [0, 0, 0]}))
    assert retried.status_code == 202, retried.text
    marker = stripe_event("customer.created")  # written after: proves we read far enough
    assert (await ingress.deliver(snapshot, *signed(marker))).status_code == 202

    keys = [f"stripe:event:{event['id']}:{i}" for i in range(3)]
    seen = await read_topic(
        ingress.infra.bootstrap_servers,
        CANONICAL_RECORDS,
        until=lambda ms: any(m.idempotency_key == f"stripe:event:{marker['id']}:0" for m in ms),
    )
    written = [m.idempotency_key for m in seen if m.installation_id == snapshot.installation_id]
    assert [written.count(key) for key in keys] == [1, 1, 1], written
