"""Stripe's signed webhook endpoint (the platform verified `Stripe-Signature` before this runs)."""

from sdk import api, handle_event

from ...lib.catalog import KNOWN_IGNORED_EVENT_TYPES, STRIPE_EVENT_CATALOG

config = {"auth": "stripe_signature"}


def receive(request):
    event = request.body
    if not isinstance(event, dict):
        return api.json({"error": "body is not a Stripe event object"}, status=400)
    obj = (event.get("data") or {}).get("object") or {}
    return handle_event(
        provider="stripe",
        catalog=STRIPE_EVENT_CATALOG,
        ignored=KNOWN_IGNORED_EVENT_TYPES,
        event_id=event.get("id"),
        event_type=event.get("type"),
        event=event,
        obj=obj,
    )


POST = api(receive)
