"""The Stripe connector: event catalog on realistic events, list-API streams, test connection."""

from __future__ import annotations

import json

import pytest
from litestar import Litestar, Request, Response, get

from tests.connectors.conftest import CONNECTORS, fixture_bytes
from tests.harness import serving
from tests.runtime.conftest import make_runtime
from tests.runtime.factories import call, deploy_directory, installation, webhook

HOSTS = "api.stripe.com"


async def deliver(redis, keyring, producer, name: str):
    runtime = make_runtime(redis, keyring, producer)
    snapshot = installation(await deploy_directory(redis, CONNECTORS / "stripe"))
    result = await runtime.invoke(webhook(snapshot, fixture_bytes(f"stripe/{name}.json")))
    await runtime.close()
    return result


@pytest.mark.parametrize(
    ("name", "canonical_type", "object_id"),
    [
        ("customer.created", "customer", "cus_Q4zV1kQ9mX2bLp"),
        ("invoice.paid", "invoice", "in_1PQx8bLkdIwHu7ixK2l3M4n5"),
        ("customer.subscription.updated", "subscription", "sub_1PQx6zLkdIwHu7ixB9n8M7l6"),
        ("payment_intent.succeeded", "payment_intent", "pi_3PQx9aLkdIwHu7ix0r5T6y7u"),
        ("refund.created", "refund", "re_3PQx9aLkdIwHu7ix0a1S2d3f"),
    ],
)
async def test_catalogued_event_becomes_one_canonical_record_keyed_by_event_id(
    infra, redis, keyring, producer, name, canonical_type, object_id
):
    event = json.loads(fixture_bytes(f"stripe/{name}.json"))
    result = await deliver(redis, keyring, producer, name)
    assert result.outcome == "ok"
    assert result.response is not None and result.response.status == 202
    [emission] = result.emissions
    assert emission.canonical_type == canonical_type
    assert emission.payload["id"] == object_id
    assert emission.idempotency_key == f"stripe:event:{event['id']}:0"


async def test_customer_transform_keeps_contact_fields_and_metadata(
    infra, redis, keyring, producer
):
    result = await deliver(redis, keyring, producer, "customer.created")
    payload = result.emissions[0].payload
    assert payload["email"] == "jenny.rosen@example.com"
    assert payload["name"] == "Jenny Rosen"
    assert payload["metadata"] == {"crm_id": "8812"}
    assert payload["deleted"] is False


async def test_subscription_transform_lists_its_prices(infra, redis, keyring, producer):
    result = await deliver(redis, keyring, producer, "customer.subscription.updated")
    payload = result.emissions[0].payload
    assert payload["prices"] == ["price_1PQx5yLkdIwHu7ixPro0Mnth"]
    assert payload["cancel_at_period_end"] is True
    assert payload["customer_id"] == "cus_Q4zV1kQ9mX2bLp"


async def test_refunded_charge_emits_the_charge_and_each_refund_with_indexed_keys(
    infra, redis, keyring, producer
):
    result = await deliver(redis, keyring, producer, "charge.refunded")
    emitted = [(e.canonical_type, e.payload["id"], e.idempotency_key) for e in result.emissions]
    assert emitted == [
        ("charge", "ch_3PQx9aLkdIwHu7ix0y1Z2a3b", "stripe:event:evt_3PQxBcLkdIwHu7ix1q2W3e4R:0"),
        ("refund", "re_3PQx9aLkdIwHu7ix0a1S2d3f", "stripe:event:evt_3PQxBcLkdIwHu7ix1q2W3e4R:1"),
        ("refund", "re_3PQx9aLkdIwHu7ix0g4H5j6k", "stripe:event:evt_3PQxBcLkdIwHu7ix1q2W3e4R:2"),
    ]
    charge = result.emissions[0].payload
    assert (charge["amount"], charge["amount_refunded"], charge["currency"]) == (4200, 4200, "usd")
    assert charge["invoice_id"] == "in_1PQx8bLkdIwHu7ixK2l3M4n5"


async def test_known_ignored_event_is_acknowledged_as_known_and_ingests_nothing(
    infra, redis, keyring, producer
):
    result = await deliver(redis, keyring, producer, "balance.available")
    assert result.emissions == []
    assert result.response is not None
    assert result.response.status == 202
    assert result.response.body == {
        "ignored": True,
        "known": True,
        "eventId": "evt_1PQxCcLkdIwHu7ixT6y7U8i9",
        "eventType": "balance.available",
    }


async def test_unknown_event_type_is_ignored_but_not_known(infra, redis, keyring, producer):
    runtime = make_runtime(redis, keyring, producer)
    snapshot = installation(await deploy_directory(redis, CONNECTORS / "stripe"))
    body = json.dumps({"id": "evt_1Zz", "type": "issuing_card.created", "data": {"object": {}}})
    result = await runtime.invoke(webhook(snapshot, body.encode()))
    await runtime.close()
    assert result.response is not None
    assert (result.response.status, result.response.body["known"]) == (202, False)


async def test_event_without_id_is_a_malformed_payload(infra, redis, keyring, producer):
    runtime = make_runtime(redis, keyring, producer)
    snapshot = installation(await deploy_directory(redis, CONNECTORS / "stripe"))
    result = await runtime.invoke(webhook(snapshot, b'{"type": "customer.created"}'))
    await runtime.close()
    assert result.response is not None and result.response.status == 400
    assert result.emissions == []


def fake_stripe(customers: list[dict], *, throttle_first: bool = False) -> Litestar:
    """Stripe's list API: newest first, `limit`, `starting_after`, `created[gt]`, bearer auth."""
    seen: list[dict] = []

    @get("/v1/customers", sync_to_thread=False)
    def list_customers(request: Request) -> Response:
        query = dict(request.query_params)
        seen.append(query)
        if request.headers.get("authorization") != "Bearer sk_test_4eC39HqLyjWDarjtT1zdp7dc":
            return Response({"error": {"type": "invalid_request_error"}}, status_code=401)
        if throttle_first and len(seen) == 1:
            return Response(
                {"error": {"type": "rate_limit"}}, status_code=429, headers={"retry-after": "1"}
            )
        ordered = sorted(customers, key=lambda c: -c["created"])
        if "created[gt]" in query:
            ordered = [c for c in ordered if c["created"] > int(query["created[gt]"])]
        if "starting_after" in query:
            ids = [c["id"] for c in ordered]
            ordered = ordered[ids.index(query["starting_after"]) + 1 :]
        limit = min(int(query.get("limit", 10)), 2)  # small pages make paging visible
        return Response(
            {
                "object": "list",
                "url": "/v1/customers",
                "data": ordered[:limit],
                "has_more": len(ordered) > limit,
            }
        )

    app = Litestar([list_customers])
    app.state.seen = seen
    return app


def customer(n: int) -> dict:
    return {
        "id": f"cus_{n:04d}",
        "object": "customer",
        "created": 1717000000 + n,
        "email": f"c{n}@example.com",
    }


async def test_customers_stream_pages_with_starting_after_then_resumes_from_created(
    infra, redis, keyring, producer
):
    customers = [customer(n) for n in range(5)]
    app = fake_stripe(customers, throttle_first=True)
    async with serving(app) as provider:
        runtime = make_runtime(redis, keyring, producer, host_overrides={HOSTS: provider})
        version = await deploy_directory(redis, CONNECTORS / "stripe")
        snapshot = installation(
            version, keyring=keyring, secrets={"api_key": "sk_test_4eC39HqLyjWDarjtT1zdp7dc"}
        )
        keys, cursor = [], None
        for _ in range(10):
            result = await runtime.invoke(call(snapshot, "stream", "customers", cursor=cursor))
            assert result.outcome == "ok", result.error
            keys += [e.idempotency_key for e in result.emissions]
            cursor = result.next_cursor
            if not result.has_more:
                break
        assert keys == [f"stripe:customer:cus_{n:04d}:{1717000000 + n}" for n in (4, 3, 2, 1, 0)]
        assert json.loads(cursor or "{}") == {"since": 1717000004}

        customers.append(customer(9))
        later = await runtime.invoke(call(snapshot, "stream", "customers", cursor=cursor))
        await runtime.close()
    assert [e.payload["id"] for e in later.emissions] == ["cus_0009"]
    assert app.state.seen[-1] == {"limit": "100", "created[gt]": "1717000004"}
    assert app.state.seen[0] == app.state.seen[1]  # the 429 was retried with the same request


async def test_test_connection_reads_the_account(infra, redis, keyring, producer):
    @get("/v1/account", sync_to_thread=False)
    def account(request: Request) -> Response:
        if request.headers.get("authorization") != "Bearer sk_test_good":
            return Response({"error": {"type": "invalid_request_error"}}, status_code=401)
        return Response(
            {
                "id": "acct_1Nv0FGQ9RKHgCVdK",
                "object": "account",
                "business_profile": {"name": "Acme Inc."},
            }
        )

    async with serving(Litestar([account])) as provider:
        runtime = make_runtime(redis, keyring, producer, host_overrides={HOSTS: provider})
        snapshot = installation(await deploy_directory(redis, CONNECTORS / "stripe"))
        good = await runtime.invoke(
            call(
                snapshot,
                "test_connection",
                "test_connection",
                secrets={"api_key": "sk_test_good"},
                settings={"account_label": "Production"},
            )
        )
        bad = await runtime.invoke(
            call(snapshot, "test_connection", "test_connection", secrets={"api_key": "sk_test_bad"})
        )
        await runtime.close()
    assert good.response is not None and bad.response is not None
    assert good.response.body == {
        "ok": True,
        "message": "Production: connected to Acme Inc. (acct_1Nv0FGQ9RKHgCVdK)",
    }
    assert bad.response.body == {"ok": False, "message": "Stripe rejected the API key"}
