"""What a delivery says about itself: the headers kept with it, its event type and id.

Parsed once on arrival for history (`DeliverySummary.event_type`/`event_id`); the handler reads
the body itself. A body that is valid JSON but not an object still counts as parsed.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

# Headers kept with a raw delivery: what verification and handlers need; never credentials.
KEPT_HEADERS = frozenset(
    {
        "content-type",
        "user-agent",
        "stripe-signature",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "svix-id",
        "svix-timestamp",
        "svix-signature",
        "x-shopify-hmac-sha256",
        "x-shopify-topic",
        "x-shopify-shop-domain",
        "x-shopify-webhook-id",
        "x-hub-signature-256",
        "x-github-event",
        "x-github-delivery",
        "x-slack-signature",
        "x-slack-request-timestamp",
    }
)
EVENT_HEADERS = ("x-github-event", "x-shopify-topic")
# Where each scheme names the event (delivery) itself, before any body field: Standard Webhooks
# (and its svix-* alias), GitHub and Shopify. A Shopify body's `id` is the object's, not the
# event's; Stripe names the event in the body's `id`.
EVENT_ID_HEADERS = ("webhook-id", "svix-id", "x-github-delivery", "x-shopify-webhook-id")


class Event(msgspec.Struct):
    """The `id` and `type` fields of a JSON body, whatever their JSON type."""

    id: object = None
    type: object = None


_event = msgspec.json.Decoder(Event)


def parse_event(body: bytes, headers: Mapping[str, str]) -> Event | None:
    """The event's id and type, or None when a JSON body does not parse."""
    if "x-www-form-urlencoded" in headers.get("content-type", ""):
        return Event()
    try:
        return _event.decode(body)
    except msgspec.ValidationError:  # valid JSON, just not an object with those fields
        return Event()
    except msgspec.DecodeError:
        return None


def event_type(event: Event | None, headers: Mapping[str, str]) -> str | None:
    """The provider's event type: its header (GitHub, Shopify), else the body's `type`."""
    for name in EVENT_HEADERS:
        if name in headers:
            return headers[name]
    return event.type if event is not None and isinstance(event.type, str) else None


def event_id(event: Event | None, headers: Mapping[str, str]) -> str | None:
    """The provider's id of the event, as shown in delivery history: its header, else `id`."""
    for name in EVENT_ID_HEADERS:
        if headers.get(name):
            return headers[name]
    return event.id if event is not None and isinstance(event.id, str) else None
