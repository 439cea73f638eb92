"""Shopify's signed webhook endpoint: topic and event id in headers, the resource in the body."""

from sdk import api, handle_event

from ...lib.catalog import KNOWN_IGNORED_EVENT_TYPES, SHOPIFY_EVENT_CATALOG

config = {"auth": "shopify_hmac"}


def receive(request):
    resource = request.body
    if not isinstance(resource, dict):
        return api.json({"error": "body is not a Shopify resource"}, status=400)
    topic = request.headers.get("x-shopify-topic")
    # The webhook id is stable across Shopify's retries of one delivery.
    event_id = request.headers.get("x-shopify-webhook-id") or request.headers.get(
        "x-shopify-event-id"
    )
    return handle_event(
        provider="shopify",
        catalog=SHOPIFY_EVENT_CATALOG,
        ignored=KNOWN_IGNORED_EVENT_TYPES,
        event_id=event_id,
        event_type=topic,
        event={"topic": topic, "resource": resource},
        obj=resource,
    )


POST = api(receive)
