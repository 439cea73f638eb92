"""Replay says why a stored body is not there: past the topic's retention it expired; within
it, the broker lost it (an embedded broker that stopped without saving its topics)."""

from __future__ import annotations

import msgspec

from services.base.dedupe import tag
from services.ingress.schemas import DeliverySummary
from tests.ingress.conftest import Ingress
from tests.ingress.factories import signed, stripe_event
from tests.ingress.test_routes import active_install, history_of

DAY_S = 86_400


async def test_a_body_missing_from_the_topic_is_reported_gone_or_expired(ingress: Ingress) -> None:
    snapshot = await active_install(ingress)
    await ingress.deliver(snapshot, *signed(stripe_event("customer.created")))
    [delivery] = await history_of(ingress, snapshot, lambda ds: len(ds) >= 1)
    key = f"{tag(snapshot.installation_id)}:delivery:{delivery['delivery_id']}"
    stored = msgspec.json.decode(await ingress.redis.get(key), type=DeliverySummary)
    url = (
        f"/v1/installations/{snapshot.installation_id}/deliveries/{delivery['delivery_id']}/replay"
    )
    # What a broker that lost its topic leaves: history pointing past the topic's end.
    lost = msgspec.structs.replace(stored, offset=(stored.offset or 0) + 1_000_000)
    await ingress.redis.set(key, msgspec.json.encode(lost))
    gone = await ingress.api("POST", url, snapshot.workspace_id)
    assert gone.status_code == 404, gone.text
    message = gone.json()["error"]["message"]
    assert "gone although it is within the 30-day retention" in message
    assert "expired" not in message

    old = msgspec.structs.replace(lost, received_at=stored.received_at - 31 * DAY_S)
    await ingress.redis.set(key, msgspec.json.encode(old))
    expired = await ingress.api("POST", url, snapshot.workspace_id)
    assert expired.status_code == 404
    assert expired.json()["error"]["message"] == (
        "the stored body has expired: deliveries are kept 30 days"
    )
