"""The Standard Webhooks connector: event types mapped to canonical types by settings."""

from __future__ import annotations

from tests.connectors.conftest import CONNECTORS, fixture_bytes
from tests.runtime.conftest import make_runtime
from tests.runtime.factories import deploy_directory, installation, webhook

MESSAGE_ID = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"


def headers() -> dict[str, str]:
    return {
        "webhook-id": MESSAGE_ID,
        "webhook-timestamp": "1716991511",
        "webhook-signature": "v1,x",
    }


async def deliver(redis, keyring, producer, fixture: str, settings: dict):
    runtime = make_runtime(redis, keyring, producer)
    snapshot = installation(
        await deploy_directory(redis, CONNECTORS / "standard-webhooks"), settings=settings
    )
    result = await runtime.invoke(
        webhook(snapshot, fixture_bytes(f"standard-webhooks/{fixture}.json"), headers=headers())
    )
    await runtime.close()
    return result


async def test_mapped_event_type_becomes_the_configured_canonical_type(
    infra, redis, keyring, producer
):
    result = await deliver(
        redis,
        keyring,
        producer,
        "invoice.paid",
        {"event_mapping": "invoice.paid=invoice\nuser.*=contact"},
    )
    [emission] = result.emissions
    assert emission.canonical_type == "invoice"
    assert emission.idempotency_key == f"standard-webhooks:event:{MESSAGE_ID}:0"
    assert emission.payload["data"]["amount"] == 12900
    assert emission.payload["event_type"] == "invoice.paid"


async def test_family_mapping_matches_by_prefix(infra, redis, keyring, producer):
    result = await deliver(
        redis, keyring, producer, "user.created", {"event_mapping": "user.*=contact"}
    )
    assert [e.canonical_type for e in result.emissions] == ["contact"]


async def test_unmapped_event_is_ignored_unless_configured_to_ingest(
    infra, redis, keyring, producer
):
    ignored = await deliver(redis, keyring, producer, "user.created", {"event_mapping": ""})
    assert ignored.emissions == []
    assert ignored.response is not None and ignored.response.body["ignored"] is True
    kept = await deliver(redis, keyring, producer, "user.created", {"ingest_unmapped": True})
    assert [e.canonical_type for e in kept.emissions] == ["webhook_event"]


async def test_mapping_to_an_undeclared_entity_is_denied(infra, redis, keyring, producer):
    result = await deliver(
        redis, keyring, producer, "invoice.paid", {"event_mapping": "invoice.paid=payroll"}
    )
    assert result.outcome == "denied"
    assert result.emissions == []
