"""Fuzzing the webhook endpoint per signature scheme (Hypothesis): headers and bodies that do
not carry a valid signature never reach the handler and never get a 5xx.

Each scheme gets its own installation of the invocation recorder (a handler that ingests one
record per invocation, keyed by the body's `marker`). Generated deliveries are: random
headers and bodies; correctly shaped signatures made with the wrong secret; signatures over a
different body; timestamps outside the tolerance; each scheme's headers missing or garbled.
All must be answered 4xx. Then one correctly signed delivery must be answered 202 — proof
that the recorder runs when it should — and the installation's records on
`ingest.canonical.v1` must be exactly that one.
"""

from __future__ import annotations

import asyncio
import base64
import os
import time
from collections.abc import Callable
from typing import Any

import httpx
import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.topics import CANONICAL_RECORDS
from services.ingress.signatures import (
    sign_github,
    sign_shopify,
    sign_slack,
    sign_standard_webhooks,
    sign_stripe,
)
from tests.harness import read_topic
from tests.robustness.live import Suite, install_recorder

EXAMPLES = int(os.environ.get("BACKFILL_FUZZ_EXAMPLES", "4")) * 5
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("BACKFILL_FUZZ_RANDOM", "") != "1",
    database=None,
    suppress_health_check=list(HealthCheck),
)
SECRET = "whsec_" + base64.b64encode(b"robustness-fuzz-secret-24b").decode()
WRONG = "whsec_" + base64.b64encode(b"some-other-secret-of-24by").decode()

Signer = Callable[[bytes, str, int], dict[str, str]]


def _standard(body: bytes, secret: str, at: int) -> dict[str, str]:
    msg_id = "msg_fuzz"
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(at),
        "webhook-signature": sign_standard_webhooks(msg_id, at, body, secret),
    }


SIGNERS: dict[str, Signer] = {
    "stripe_signature": lambda b, s, t: {"stripe-signature": sign_stripe(b, s, t)},
    "standard_webhooks": _standard,
    "github_sha256": lambda b, s, t: {"x-hub-signature-256": sign_github(b, s)},
    "shopify_hmac": lambda b, s, t: {"x-shopify-hmac-sha256": sign_shopify(b, s)},
    "slack_v0": lambda b, s, t: {
        "x-slack-signature": sign_slack(b, s, t),
        "x-slack-request-timestamp": str(t),
    },
    "api_key": lambda b, s, t: {"authorization": f"Bearer {s}"},
}
HEADER_NAMES = sorted({name for sign in SIGNERS.values() for name in sign(b"", SECRET, 0)})

# printable ASCII; no surrounding spaces (HTTP strips them, and the client refuses to send them)
header_text = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=120
).map(str.strip)
bodies = st.one_of(
    st.binary(max_size=512),
    st.dictionaries(st.text(max_size=10), st.text(max_size=20), max_size=4).map(
        msgspec.json.encode
    ),
    st.builds(lambda m: msgspec.json.encode({"marker": m, "type": "x"}), st.text(max_size=12)),
)


@st.composite
def forged(draw: st.DrawFn, scheme: str) -> tuple[bytes, dict[str, str], str]:
    """A delivery that must not authenticate, and how it was made."""
    body = draw(bodies)
    now = int(time.time())
    how = draw(st.sampled_from(["random", "wrong_secret", "other_body", "stale", "missing"]))
    if scheme == "api_key" and how in ("other_body", "stale"):
        how = "wrong_secret"  # an API key covers neither the body nor a time
    if how == "random":
        names = draw(st.lists(st.sampled_from(HEADER_NAMES), max_size=4, unique=True))
        headers = {name: draw(header_text) for name in names}
    elif how == "wrong_secret":
        headers = SIGNERS[scheme](body, WRONG, now)
    elif how == "other_body":
        other = draw(bodies.filter(lambda b: b != body))
        headers = SIGNERS[scheme](other, SECRET, now)
    elif how == "stale":
        if scheme not in ("stripe_signature", "standard_webhooks", "slack_v0"):
            how, headers = "wrong_secret", SIGNERS[scheme](body, WRONG, now)
        else:
            skew = draw(st.sampled_from([-1, 1])) * draw(st.integers(301, 10**9))
            headers = SIGNERS[scheme](body, SECRET, now + skew)
    else:
        valid = SIGNERS[scheme](body, SECRET, now)
        dropped = draw(st.sampled_from(sorted(valid)))
        headers = {k: v for k, v in valid.items() if k != dropped}
        if draw(st.booleans()):
            headers[dropped] = draw(header_text)
            how = "garbled"
    extra = draw(st.dictionaries(st.sampled_from(["content-type", "x-forwarded-for"]), header_text))
    return body, {**extra, **headers}, how


@pytest.mark.parametrize("scheme", sorted(SIGNERS))
def test_no_delivery_without_a_valid_signature_reaches_the_handler(
    live: Suite, scheme: str
) -> None:
    recorder = install_recorder(live, live.workspaces["fuzz"], scheme, SECRET)
    answers: dict[str, set[int]] = {}
    sent = [0]

    with httpx.Client(timeout=30) as client:

        @FUZZ_SETTINGS
        @given(delivery=forged(scheme))
        def deliver_forged(delivery: tuple[bytes, dict[str, str], str]) -> None:
            body, headers, how = delivery
            sent[0] += 1
            response = client.post(recorder["url"], content=body, headers=headers)
            answers.setdefault(how, set()).add(response.status_code)
            assert 400 <= response.status_code < 500, (how, headers, response.text)

        deliver_forged()

        marker = f"valid-{scheme}-{os.urandom(4).hex()}"
        body = msgspec.json.encode({"marker": marker, "type": "x"})
        headers = {
            "content-type": "application/json",
            **SIGNERS[scheme](body, SECRET, int(time.time())),
        }
        valid = client.post(recorder["url"], content=body, headers=headers)
        assert valid.status_code == 202, valid.text

    records = asyncio.run(records_of(live, recorder["installation_id"], f"invoked:{marker}"))
    assert [r.idempotency_key for r in records] == [f"invoked:{marker}"], (answers, records)
    print(f"\nwebhook fuzz {scheme}: {sent[0]} forged deliveries, answers {answers}, invocations 0")


async def records_of(live: Suite, installation_id: str, marker_key: str) -> list[Any]:
    """The installation's canonical records once the marker's record is among them."""
    seen = await read_topic(
        live.infra.bootstrap_servers,
        CANONICAL_RECORDS,
        until=lambda ms: any(
            m.installation_id == installation_id and m.idempotency_key == marker_key for m in ms
        ),
        timeout=30,
    )
    return [m for m in seen if m.installation_id == installation_id]
