"""What a delivery says about itself: each scheme's event id as history shows it."""

from __future__ import annotations

import pytest

from services.ingress.events import Event, event_id, parse_event


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        ({"webhook-id": "msg_2KWP"}, b'{"type": "invoice.paid"}', "msg_2KWP"),
        ({"svix-id": "msg_svix"}, b'{"type": "invoice.paid"}', "msg_svix"),
        ({}, b'{"id": "evt_1", "type": "customer.created"}', "evt_1"),
        ({"x-github-delivery": "72d3162e"}, b'{"action": "opened"}', "72d3162e"),
        ({"x-shopify-webhook-id": "b54557e4"}, b'{"id": 820982911946154508}', "b54557e4"),
        ({"x-shopify-webhook-id": "b54557e4"}, b'{"id": "gid://order/1"}', "b54557e4"),
    ],
    ids=["standard-webhooks", "svix", "stripe", "github", "shopify", "shopify-object-id"],
)
def test_each_schemes_event_id_is_taken_from_where_the_provider_puts_it(
    headers: dict[str, str], body: bytes, expected: str
) -> None:
    assert event_id(parse_event(body, headers), headers) == expected


def test_no_event_id_anywhere_is_none() -> None:
    assert event_id(Event(id=42), {}) is None
    assert event_id(None, {"webhook-id": ""}) is None
