"""Published provider vectors and the helpers every signature test uses."""

from __future__ import annotations

import base64
import random
from collections.abc import Mapping, Sequence

import pytest

from services.ingress.signatures import (
    SignatureError,
    Verified,
    sign_github,
    sign_shopify,
    sign_slack,
    sign_standard_webhooks,
    sign_stripe,
    verify,
)

NOW = 1_700_000_000


BODY = b'{"id":"evt_1","type":"invoice.paid","amount":4200}'


def reason_of(
    scheme: str,
    *,
    body: bytes = BODY,
    headers: Mapping[str, str],
    secrets: Sequence[str],
    now: float | None = NOW,
    tolerance_s: int = 300,
) -> str:
    """Run verify expecting a rejection and return its reason code."""
    with pytest.raises(SignatureError) as excinfo:
        verify(
            scheme, body=body, headers=headers, secrets=secrets, now=now, tolerance_s=tolerance_s
        )
    return excinfo.value.reason


def tamper(body: bytes) -> bytes:
    """Flip one bit of one byte in the middle of the body."""
    i = len(body) // 2
    return body[:i] + bytes([body[i] ^ 0x01]) + body[i + 1 :]


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


# GitHub docs, "Validating webhook deliveries" → "Testing the webhook payload validation".
GITHUB_SECRET = "It's a Secret to Everybody"


GITHUB_PAYLOAD = b"Hello, World!"


GITHUB_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


# Slack docs, "Verifying requests from Slack" → the worked example.
SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


SLACK_TIMESTAMP = 1531420618


SLACK_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow"
    b"&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner"
    b"&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands"
    b"%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)


SLACK_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


SLACK_HEADERS = {
    "x-slack-request-timestamp": str(SLACK_TIMESTAMP),
    "x-slack-signature": SLACK_SIGNATURE,
}


# Standard Webhooks spec / reference-library test vector (also in the Svix libraries' tests).
SW_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


SW_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"


SW_TIMESTAMP = 1614265330


SW_BODY = b'{"test": 2432232314}'


SW_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


SW_HEADERS = {
    "webhook-id": SW_ID,
    "webhook-timestamp": str(SW_TIMESTAMP),
    "webhook-signature": SW_SIGNATURE,
}


# v1a fixed vector, computed once with OpenSSL 3.0 (independently of this module):
# Ed25519 seed = bytes(range(32)), message = the v1 vector's "{id}.{timestamp}.{body}".
SW_ED25519_SECRET_KEY = "whsk_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="


SW_ED25519_PUBLIC_KEY = "whpk_A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg="


SW_ED25519_SIGNATURE = (
    "v1a,yoUrgEkc12aGqm0n4Sydmdz55xJfTz4AsAgieHFjmkR7LJtqVCZOQYzvvHjI5kAey+r4iaBGxTFRrl2iBQxtDQ=="
)


def sw_verify(
    headers: Mapping[str, str], secrets: Sequence[str], body: bytes = SW_BODY
) -> Verified:
    return verify(
        "standard_webhooks", body=body, headers=headers, secrets=secrets, now=SW_TIMESTAMP
    )


SW_VERIFIED = Verified("standard_webhooks", SW_TIMESTAMP)


SIGNED_AT_SCHEMES = {"stripe_signature", "slack_v0", "standard_webhooks"}


def sw_reason(headers: Mapping[str, str], secrets: Sequence[str], body: bytes = SW_BODY) -> str:
    return reason_of(
        "standard_webhooks", body=body, headers=headers, secrets=secrets, now=SW_TIMESTAMP
    )


STRIPE_SECRET = "whsec_test_secret"


STRIPE_BODY = b'{"id":"evt_test","object":"event"}'


# Stripe publishes no fixed vector; this one checks the scheme independently of sign_stripe. It was
# computed once with: printf '%s' "1700000000.$BODY" | openssl dgst -sha256 -hmac whsec_test_secret
STRIPE_V1 = "8042376f6ca064adbe037642a718227dfd59047137eb49497a54c49eb0cfb724"


def stripe_reason(
    header: str,
    *,
    body: bytes = STRIPE_BODY,
    secrets: Sequence[str] = (STRIPE_SECRET,),
    now: float = NOW,
) -> str:
    return reason_of(
        "stripe_signature",
        body=body,
        headers={"stripe-signature": header},
        secrets=list(secrets),
        now=now,
    )


# Shopify publishes no fixed vector; this one reuses GitHub's secret and payload and was computed
# once with `printf '%s' 'Hello, World!' | openssl dgst -sha256 -hmac "..." -binary | base64`.
SHOPIFY_SIGNATURE = "dXEH6g6yUJ/CESIczphLijdXC211hsIsRvQ3nIsEPhc="


HEADER_NAMES = {
    "stripe_signature": ["stripe-signature"],
    "standard_webhooks": ["webhook-id", "webhook-timestamp", "webhook-signature"],
    "shopify_hmac": ["x-shopify-hmac-sha256"],
    "github_sha256": ["x-hub-signature-256"],
    "slack_v0": ["x-slack-request-timestamp", "x-slack-signature"],
    "api_key": ["authorization", "x-api-key"],
}


VALID_LOOKING = [
    f"t={NOW},v1={STRIPE_V1}",
    SW_SIGNATURE,
    SW_ED25519_SIGNATURE,
    SHOPIFY_SIGNATURE,
    GITHUB_SIGNATURE,
    SLACK_SIGNATURE,
    str(NOW),
    "Bearer key-123",
]


ALPHABET = "tv01=,. -+_/:;aAfFzZ\t\n\r\x00\x7f\u00e9\u0660\u200b\ud800\udcff\U0001f600"


def garbage(rng: random.Random) -> str:
    """A header value that is random, or a valid-looking one with a few random edits."""
    kind = rng.randrange(4)
    if kind == 0:
        return "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(0, 120)))
    if kind == 1:
        return "".join(chr(rng.randrange(0, 0x110000)) for _ in range(rng.randrange(0, 40)))
    if kind == 2:
        return rng.randbytes(rng.randrange(0, 80)).decode("latin-1")
    value = list(rng.choice(VALID_LOOKING))
    for _ in range(rng.randrange(1, 4)):
        pos = rng.randrange(len(value) + 1)
        op = rng.randrange(3)
        if op == 0:
            value.insert(pos, rng.choice(ALPHABET))
        elif value and op == 1:
            del value[min(pos, len(value) - 1)]
        elif value:
            value[min(pos, len(value) - 1)] = rng.choice(ALPHABET)
    return "".join(value)


def valid_headers(scheme: str) -> dict[str, str]:
    """Headers that verify for BODY at NOW with the secret "fuzz-key" (or SW_SECRET)."""
    return {
        "stripe_signature": {"stripe-signature": sign_stripe(BODY, "fuzz-key", NOW)},
        "standard_webhooks": {
            "webhook-id": "msg_1",
            "webhook-timestamp": str(NOW),
            "webhook-signature": sign_standard_webhooks("msg_1", NOW, BODY, SW_SECRET),
        },
        "shopify_hmac": {"x-shopify-hmac-sha256": sign_shopify(BODY, "fuzz-key")},
        "github_sha256": {"x-hub-signature-256": sign_github(BODY, "fuzz-key")},
        "slack_v0": {
            "x-slack-request-timestamp": str(NOW),
            "x-slack-signature": sign_slack(BODY, "fuzz-key", NOW),
        },
        "api_key": {"authorization": "Bearer fuzz-key"},
    }[scheme]


def mutate(rng: random.Random, value: str) -> str:
    chars = list(value)
    for _ in range(rng.randrange(1, 4)):
        pos = rng.randrange(len(chars) + 1)
        if rng.random() < 0.5 or not chars:
            chars.insert(pos, rng.choice(ALPHABET))
        else:
            chars[min(pos, len(chars) - 1)] = rng.choice(ALPHABET)
    return "".join(chars)
