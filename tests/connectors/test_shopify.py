"""The Shopify connector: topic catalog on realistic webhooks, page_info streams, test connection."""

from __future__ import annotations

import json

import pytest
from litestar import Litestar, Request, Response, get

from tests.connectors.conftest import CONNECTORS, fixture_bytes
from tests.harness import serving
from tests.runtime.conftest import make_runtime
from tests.runtime.factories import call, deploy_directory, installation, webhook

SHOP = "acme-outdoor.myshopify.com"
TOKEN = "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"


def headers(topic: str, webhook_id: str) -> dict[str, str]:
    return {
        "x-shopify-topic": topic,
        "x-shopify-webhook-id": webhook_id,
        "x-shopify-shop-domain": SHOP,
        "x-shopify-api-version": "2024-07",
    }


@pytest.mark.parametrize(
    ("topic", "fixture", "canonical_type", "object_id"),
    [
        ("orders/create", "orders-create", "order", "5512873640107"),
        ("products/update", "products-update", "product", "8807312195883"),
        ("customers/create", "customers-create", "customer", "7284916502315"),
    ],
)
async def test_catalogued_topic_becomes_one_record_keyed_by_webhook_id(
    infra, redis, keyring, producer, topic, fixture, canonical_type, object_id
):
    runtime = make_runtime(redis, keyring, producer)
    snapshot = installation(await deploy_directory(redis, CONNECTORS / "shopify"))
    webhook_id = "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"
    result = await runtime.invoke(
        webhook(
            snapshot, fixture_bytes(f"shopify/{fixture}.json"), headers=headers(topic, webhook_id)
        )
    )
    await runtime.close()
    [emission] = result.emissions
    assert (emission.canonical_type, emission.payload["id"]) == (canonical_type, object_id)
    assert emission.idempotency_key == f"shopify:event:{webhook_id}:0"


async def test_order_transform_carries_totals_customer_and_line_items(
    infra, redis, keyring, producer
):
    runtime = make_runtime(redis, keyring, producer)
    snapshot = installation(await deploy_directory(redis, CONNECTORS / "shopify"))
    result = await runtime.invoke(
        webhook(
            snapshot,
            fixture_bytes("shopify/orders-create.json"),
            headers=headers("orders/create", "w-1"),
        )
    )
    await runtime.close()
    order = result.emissions[0].payload
    assert (order["name"], order["total_price"], order["currency"]) == ("#1042", "449.70", "CAD")
    assert order["customer_id"] == "7284916502315"
    assert order["line_items"] == [
        {"sku": "IPOD2008PINK", "title": "IPod Nano - 8GB", "quantity": 2, "price": "199.00"}
    ]


async def test_known_ignored_topic_ingests_nothing(infra, redis, keyring, producer):
    runtime = make_runtime(redis, keyring, producer)
    snapshot = installation(await deploy_directory(redis, CONNECTORS / "shopify"))
    result = await runtime.invoke(
        webhook(snapshot, b'{"id": 1, "token": "c1"}', headers=headers("carts/update", "w-2"))
    )
    await runtime.close()
    assert result.emissions == []
    assert result.response is not None and result.response.body["known"] is True


def fake_shopify(orders: list[dict]) -> Litestar:
    """Admin API orders.json: `limit`, `updated_at_min`, opaque `page_info` in a Link header."""
    seen: list[dict] = []

    @get("/admin/api/2024-07/orders.json", sync_to_thread=False)
    def list_orders(request: Request) -> Response:
        query = dict(request.query_params)
        seen.append(query)
        if request.headers.get("x-shopify-access-token") != TOKEN:
            return Response({"errors": "[API] Invalid API key or access token"}, status_code=401)
        ordered = sorted(orders, key=lambda o: o["updated_at"])
        start = int(query["page_info"].removeprefix("pg")) if "page_info" in query else 0
        if "updated_at_min" in query:
            ordered = [o for o in ordered if o["updated_at"] >= query["updated_at_min"]]
        page = ordered[start : start + 2]
        link = {}
        if start + 2 < len(ordered):
            nxt = f"https://{request.headers['host']}/admin/api/2024-07/orders.json?limit=250&page_info=pg{start + 2}"
            link = {"link": f'<{nxt}>; rel="next"'}
        return Response({"orders": page}, headers=link)

    app = Litestar([list_orders])
    app.state.seen = seen
    return app


def order(n: int) -> dict:
    return {
        "id": 5512873640100 + n,
        "name": f"#10{n:02d}",
        "updated_at": f"2024-05-29T10:{n:02d}:00-04:00",
    }


async def test_orders_stream_follows_page_info_links_then_resumes_from_updated_at(
    infra, redis, keyring, producer
):
    orders = [order(n) for n in range(5)]
    app = fake_shopify(orders)
    async with serving(app) as provider:
        runtime = make_runtime(redis, keyring, producer, host_overrides={SHOP: provider})
        version = await deploy_directory(redis, CONNECTORS / "shopify")
        snapshot = installation(
            version,
            keyring=keyring,
            secrets={"access_token": TOKEN},
            settings={"shop_domain": SHOP},
        )
        ids, cursor = [], None
        for _ in range(10):
            result = await runtime.invoke(call(snapshot, "stream", "orders", cursor=cursor))
            assert result.outcome == "ok", result.error
            ids += [e.payload["id"] for e in result.emissions]
            cursor = result.next_cursor
            if not result.has_more:
                break
        assert ids == [str(5512873640100 + n) for n in range(5)]
        assert [q.get("page_info") for q in app.state.seen] == [None, "pg2", "pg4"]
        assert json.loads(cursor or "{}") == {"since": "2024-05-29T10:04:00-04:00"}
        again = await runtime.invoke(call(snapshot, "stream", "orders", cursor=cursor))
        await runtime.close()
    # updated_at_min is inclusive: the boundary order is read again under the same key.
    assert [e.idempotency_key for e in again.emissions] == [
        "shopify:order:5512873640104:2024-05-29T10:04:00-04:00"
    ]


async def test_stream_for_a_shop_outside_myshopify_is_denied(infra, redis, keyring, producer):
    runtime = make_runtime(redis, keyring, producer)
    version = await deploy_directory(redis, CONNECTORS / "shopify")
    snapshot = installation(version, settings={"shop_domain": "attacker.example.com"})
    result = await runtime.invoke(call(snapshot, "stream", "orders"))
    await runtime.close()
    assert result.outcome == "denied"


async def test_test_connection_reads_the_shop(infra, redis, keyring, producer):
    @get("/admin/api/2024-07/shop.json", sync_to_thread=False)
    def shop(request: Request) -> Response:
        if request.headers.get("x-shopify-access-token") != TOKEN:
            return Response({"errors": "[API] Invalid API key or access token"}, status_code=401)
        return Response(
            {"shop": {"id": 548380009, "name": "Acme Outdoor", "myshopify_domain": SHOP}}
        )

    async with serving(Litestar([shop])) as provider:
        runtime = make_runtime(redis, keyring, producer, host_overrides={SHOP: provider})
        snapshot = installation(await deploy_directory(redis, CONNECTORS / "shopify"))
        good = await runtime.invoke(
            call(
                snapshot,
                "test_connection",
                "test_connection",
                settings={"shop_domain": SHOP},
                secrets={"access_token": TOKEN},
            )
        )
        bad = await runtime.invoke(
            call(
                snapshot,
                "test_connection",
                "test_connection",
                settings={"shop_domain": SHOP},
                secrets={"access_token": "shpat_wrong"},
            )
        )
        await runtime.close()
    assert good.response is not None and bad.response is not None
    assert good.response.body == {"ok": True, "message": "connected to Acme Outdoor"}
    assert bad.response.body == {"ok": False, "message": "Shopify rejected the access token"}
