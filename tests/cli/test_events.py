"""Sample events: every shipped fixture, signed per scheme, passes ingress' own verifier."""

from __future__ import annotations

import json
import time

import pytest

from cli.errors import CliError
from cli.events import FIRST_PARTY, available, build, fixtures_of, manifest_webhooks, new_secret
from services.ingress.signatures import SignatureError, verify

CONNECTORS = ["stripe", "shopify", "github", "standard-webhooks"]


@pytest.mark.parametrize("key", CONNECTORS)
def test_every_first_party_sample_is_signed_as_its_provider_signs(key: str) -> None:
    scheme = manifest_webhooks(key, None)["auth"]
    secret = new_secret(scheme)
    fixtures = fixtures_of(key, None)
    assert fixtures == FIRST_PARTY / key / "fixtures" and available(fixtures)
    for name in available(fixtures):
        sample = build(scheme, name, fixtures, secret)
        verify(scheme, body=sample.body, headers=sample.headers, secrets=[secret], now=time.time())
        with pytest.raises(SignatureError):
            verify(scheme, body=sample.body, headers=sample.headers, secrets=[new_secret(scheme)])


def test_provider_event_headers_name_the_event() -> None:
    github = build("github_sha256", "issues.opened", fixtures_of("github", None), "s")
    assert github.headers["x-github-event"] == "issues"
    shopify = build("shopify_hmac", "orders/create", fixtures_of("shopify", None), "s")
    assert shopify.headers["x-shopify-topic"] == "orders/create"


def test_each_stripe_send_is_a_fresh_event() -> None:
    fixtures = fixtures_of("stripe", None)
    first = build("stripe_signature", "customer.created", fixtures, "whsec_x")
    second = build("stripe_signature", "customer.created", fixtures, "whsec_x")
    assert json.loads(first.body)["id"] != json.loads(second.body)["id"]


def test_an_unknown_event_names_the_available_ones() -> None:
    with pytest.raises(CliError) as refused:
        build("stripe_signature", "nope.nothing", fixtures_of("stripe", None), "whsec_x")
    assert "customer.created" in refused.value.hint
