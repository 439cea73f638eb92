"""Webhook signature verification: published provider vectors, rotation, and every rejection."""

from __future__ import annotations

import base64
import random
import time
from collections.abc import Mapping, Sequence

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.ingress.signatures import (
    CONNECTOR_ONLY_SCHEMES,
    SCHEMES,
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


# --------------------------------------------------------------------------------------- general


def test_schemes_lists_every_supported_scheme() -> None:
    assert SCHEMES == {
        "stripe_signature",
        "standard_webhooks",
        "shopify_hmac",
        "github_sha256",
        "slack_v0",
        "api_key",
        "public",
    }


def test_connector_only_schemes_are_the_provider_signature_schemes() -> None:
    assert CONNECTOR_ONLY_SCHEMES == SCHEMES - {"api_key", "public"}
    assert isinstance(SCHEMES, frozenset)
    assert isinstance(CONNECTOR_ONLY_SCHEMES, frozenset)


def test_unknown_scheme_is_rejected_as_unknown_scheme() -> None:
    assert reason_of("hmac_md5", headers={}, secrets=["s"]) == "unknown_scheme"
    assert reason_of("", headers={}, secrets=["s"]) == "unknown_scheme"
    assert reason_of("PUBLIC", headers={}, secrets=[]) == "unknown_scheme"


def test_public_scheme_accepts_any_request_without_secrets() -> None:
    # No exception means accepted; even garbage signature headers don't matter.
    assert verify(
        "public", body=b"anything", headers={"x-hub-signature-256": "junk"}, secrets=[]
    ) == Verified("public")


def test_signature_error_exposes_its_reason_as_attribute_and_message() -> None:
    err = SignatureError("missing_header")
    assert err.reason == "missing_header"
    assert str(err) == "missing_header"
    assert isinstance(err, Exception)


@pytest.mark.parametrize("scheme", sorted(SCHEMES - {"public"}))
def test_scheme_with_no_secrets_is_rejected_as_invalid_secret(scheme: str) -> None:
    assert reason_of(scheme, headers={}, secrets=[]) == "invalid_secret"
    assert reason_of(scheme, headers={}, secrets=[""]) == "invalid_secret"


def test_bare_string_instead_of_secret_list_is_rejected_not_split_into_characters() -> None:
    # A str is a Sequence[str]: iterating it would make each character a brute-forceable key.
    headers = {"x-hub-signature-256": sign_github(BODY, "a")}
    assert reason_of("github_sha256", headers=headers, secrets="abc") == "invalid_secret"


def test_empty_string_secret_never_verifies_a_signature_made_with_an_empty_key() -> None:
    headers = {"x-hub-signature-256": sign_github(BODY, "")}
    reason = reason_of("github_sha256", headers=headers, secrets=["", "real-secret"])
    assert reason == "no_matching_signature"


def test_now_defaults_to_the_current_time() -> None:
    ts = int(time.time())
    headers = {"stripe-signature": sign_stripe(BODY, "whsec_x", ts)}
    verified = verify("stripe_signature", body=BODY, headers=headers, secrets=["whsec_x"])
    assert verified == Verified("stripe_signature", ts)
    stale = {"stripe-signature": sign_stripe(BODY, "whsec_x", ts - 3600)}
    assert reason_of("stripe_signature", headers=stale, secrets=["whsec_x"], now=None) == (
        "timestamp_too_old"
    )


# ---------------------------------------------------------------------------------------- github

# GitHub docs, "Validating webhook deliveries" → "Testing the webhook payload validation".
GITHUB_SECRET = "It's a Secret to Everybody"
GITHUB_PAYLOAD = b"Hello, World!"
GITHUB_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def test_github_published_docs_vector_is_reproduced_by_sign_github() -> None:
    assert sign_github(GITHUB_PAYLOAD, GITHUB_SECRET) == GITHUB_SIGNATURE


def test_github_published_docs_vector_is_accepted() -> None:
    headers = {"x-hub-signature-256": GITHUB_SIGNATURE}
    assert verify(
        "github_sha256", body=GITHUB_PAYLOAD, headers=headers, secrets=[GITHUB_SECRET]
    ) == Verified("github_sha256")


def test_github_signature_with_uppercase_hex_is_accepted() -> None:
    headers = {"x-hub-signature-256": "sha256=" + GITHUB_SIGNATURE.removeprefix("sha256=").upper()}
    assert verify(
        "github_sha256", body=GITHUB_PAYLOAD, headers=headers, secrets=[GITHUB_SECRET]
    ) == Verified("github_sha256")


def test_github_signature_made_with_either_rotated_secret_is_accepted() -> None:
    for secret in ("old-secret", "new-secret"):
        headers = {"x-hub-signature-256": sign_github(BODY, secret)}
        assert verify(
            "github_sha256", body=BODY, headers=headers, secrets=["old-secret", "new-secret"]
        ) == Verified("github_sha256")


def test_github_signature_over_a_tampered_body_is_rejected() -> None:
    headers = {"x-hub-signature-256": GITHUB_SIGNATURE}
    reason = reason_of(
        "github_sha256", body=tamper(GITHUB_PAYLOAD), headers=headers, secrets=[GITHUB_SECRET]
    )
    assert reason == "no_matching_signature"


def test_github_signature_made_with_the_wrong_secret_is_rejected() -> None:
    headers = {"x-hub-signature-256": GITHUB_SIGNATURE}
    reason = reason_of("github_sha256", body=GITHUB_PAYLOAD, headers=headers, secrets=["nope"])
    assert reason == "no_matching_signature"


def test_github_request_without_signature_header_is_rejected_as_missing_header() -> None:
    # The legacy SHA-1 header alone is not enough.
    headers = {"x-hub-signature": "sha1=0123456789abcdef0123456789abcdef01234567"}
    assert reason_of("github_sha256", headers=headers, secrets=["s"]) == "missing_header"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "garbage",
        "sha256=",
        "sha256=not-hex-" + "0" * 49,
        "sha256=" + "g" * 64,
        "sha256=" + "a" * 63,
        "sha256=" + "a" * 65,
        "sha1=" + "a" * 64,
        "SHA256=" + "a" * 64,
        "a" * 64,
        "sha256=" + "a" * 62 + " a",
        "sha256=" + "٠" * 64,  # Arabic-Indic digits are not hex
    ],
)
def test_github_malformed_signature_header_is_rejected_as_malformed_header(value: str) -> None:
    headers = {"x-hub-signature-256": value}
    assert reason_of("github_sha256", headers=headers, secrets=["s"]) == "malformed_header"


# ----------------------------------------------------------------------------------------- slack

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


def test_slack_published_docs_vector_is_reproduced_by_sign_slack() -> None:
    assert sign_slack(SLACK_BODY, SLACK_SECRET, SLACK_TIMESTAMP) == SLACK_SIGNATURE


def test_slack_published_docs_vector_is_accepted_at_its_timestamp() -> None:
    assert verify(
        "slack_v0",
        body=SLACK_BODY,
        headers=SLACK_HEADERS,
        secrets=[SLACK_SECRET],
        now=SLACK_TIMESTAMP,
    ) == Verified("slack_v0", SLACK_TIMESTAMP)


def test_slack_signature_made_with_the_second_rotated_secret_is_accepted() -> None:
    headers = {
        "x-slack-request-timestamp": str(NOW),
        "x-slack-signature": sign_slack(BODY, "new", NOW),
    }
    assert verify(
        "slack_v0", body=BODY, headers=headers, secrets=["old", "new"], now=NOW
    ) == Verified("slack_v0", NOW)


def test_slack_signature_over_a_tampered_body_is_rejected() -> None:
    reason = reason_of(
        "slack_v0",
        body=tamper(SLACK_BODY),
        headers=SLACK_HEADERS,
        secrets=[SLACK_SECRET],
        now=SLACK_TIMESTAMP,
    )
    assert reason == "no_matching_signature"


def test_slack_signature_made_with_the_wrong_secret_is_rejected() -> None:
    reason = reason_of(
        "slack_v0", body=SLACK_BODY, headers=SLACK_HEADERS, secrets=["x"], now=SLACK_TIMESTAMP
    )
    assert reason == "no_matching_signature"


def test_slack_signature_replayed_with_a_different_timestamp_is_rejected() -> None:
    headers = {**SLACK_HEADERS, "x-slack-request-timestamp": str(SLACK_TIMESTAMP + 1)}
    reason = reason_of(
        "slack_v0", body=SLACK_BODY, headers=headers, secrets=[SLACK_SECRET], now=SLACK_TIMESTAMP
    )
    assert reason == "no_matching_signature"


def test_slack_signature_with_stale_timestamp_is_rejected() -> None:
    reason = reason_of(
        "slack_v0",
        body=SLACK_BODY,
        headers=SLACK_HEADERS,
        secrets=[SLACK_SECRET],
        now=SLACK_TIMESTAMP + 301,
    )
    assert reason == "timestamp_too_old"


def test_slack_signature_with_future_timestamp_is_rejected() -> None:
    reason = reason_of(
        "slack_v0",
        body=SLACK_BODY,
        headers=SLACK_HEADERS,
        secrets=[SLACK_SECRET],
        now=SLACK_TIMESTAMP - 301,
    )
    assert reason == "timestamp_in_future"


def test_slack_signature_exactly_at_the_tolerance_edge_is_accepted() -> None:
    for now in (SLACK_TIMESTAMP - 300, SLACK_TIMESTAMP + 300):
        assert verify(
            "slack_v0", body=SLACK_BODY, headers=SLACK_HEADERS, secrets=[SLACK_SECRET], now=now
        ) == Verified("slack_v0", SLACK_TIMESTAMP)


@pytest.mark.parametrize("missing", ["x-slack-request-timestamp", "x-slack-signature"])
def test_slack_request_missing_a_header_is_rejected_as_missing_header(missing: str) -> None:
    headers = {k: v for k, v in SLACK_HEADERS.items() if k != missing}
    reason = reason_of("slack_v0", body=SLACK_BODY, headers=headers, secrets=[SLACK_SECRET])
    assert reason == "missing_header"


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("x-slack-signature", ""),
        ("x-slack-signature", "garbage"),
        ("x-slack-signature", "v1=" + SLACK_SIGNATURE[3:]),
        ("x-slack-signature", SLACK_SIGNATURE[3:]),
        ("x-slack-signature", "v0=" + "z" * 64),
        ("x-slack-signature", SLACK_SIGNATURE[:-1]),
        ("x-slack-request-timestamp", ""),
        ("x-slack-request-timestamp", "abc"),
        ("x-slack-request-timestamp", "-1531420618"),
        ("x-slack-request-timestamp", "+1531420618"),
        ("x-slack-request-timestamp", "1531420618.0"),
        ("x-slack-request-timestamp", "1_531_420_618"),
        ("x-slack-request-timestamp", "9" * 5000),
    ],
)
def test_slack_malformed_header_is_rejected_as_malformed_header(header: str, value: str) -> None:
    headers = {**SLACK_HEADERS, header: value}
    reason = reason_of(
        "slack_v0", body=SLACK_BODY, headers=headers, secrets=[SLACK_SECRET], now=SLACK_TIMESTAMP
    )
    assert reason == "malformed_header"


# ------------------------------------------------------------------------------ standard webhooks

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


def test_standard_webhooks_spec_vector_is_reproduced_by_sign_standard_webhooks() -> None:
    assert sign_standard_webhooks(SW_ID, SW_TIMESTAMP, SW_BODY, SW_SECRET) == SW_SIGNATURE


def test_standard_webhooks_spec_vector_is_accepted_at_its_timestamp() -> None:
    assert sw_verify(SW_HEADERS, [SW_SECRET]) == SW_VERIFIED


def test_standard_webhooks_secret_without_whsec_prefix_is_accepted() -> None:
    # The reference libraries treat the prefix as optional.
    assert sw_verify(SW_HEADERS, [SW_SECRET.removeprefix("whsec_")]) == SW_VERIFIED


def test_standard_webhooks_svix_header_names_are_accepted_as_aliases() -> None:
    headers = {k.replace("webhook-", "svix-"): v for k, v in SW_HEADERS.items()}
    assert sw_verify(headers, [SW_SECRET]) == SW_VERIFIED


def test_standard_webhooks_accepts_any_matching_signature_in_the_list() -> None:
    headers = {**SW_HEADERS, "webhook-signature": f"v1,{b64(b'x' * 32)} v2,whatever {SW_SIGNATURE}"}
    assert sw_verify(headers, [SW_SECRET]) == SW_VERIFIED


def test_standard_webhooks_signature_made_with_the_second_rotated_secret_is_accepted() -> None:
    assert sw_verify(SW_HEADERS, ["whsec_" + b64(b"k" * 32), SW_SECRET]) == SW_VERIFIED


def test_standard_webhooks_one_undecodable_secret_does_not_block_a_rotation() -> None:
    assert sw_verify(SW_HEADERS, ["whsec_!!!not base64!!!", SW_SECRET]) == SW_VERIFIED


def test_standard_webhooks_only_undecodable_secrets_are_rejected_as_invalid_secret() -> None:
    assert sw_reason(SW_HEADERS, ["whsec_!!!", "whpk_abc"]) == "invalid_secret"


def test_standard_webhooks_v1a_fixed_vector_is_reproduced_by_sign_standard_webhooks() -> None:
    signed = sign_standard_webhooks(SW_ID, SW_TIMESTAMP, SW_BODY, SW_ED25519_SECRET_KEY)
    assert signed == SW_ED25519_SIGNATURE


def test_standard_webhooks_v1a_fixed_vector_is_accepted_with_the_public_key() -> None:
    assert (
        sw_verify(
            {**SW_HEADERS, "webhook-signature": SW_ED25519_SIGNATURE}, [SW_ED25519_PUBLIC_KEY]
        )
        == SW_VERIFIED
    )


def test_standard_webhooks_v1a_is_accepted_with_a_generated_keypair() -> None:
    private = Ed25519PrivateKey.generate()
    content = f"{SW_ID}.{SW_TIMESTAMP}.".encode() + SW_BODY  # per the spec, signed directly
    headers = {**SW_HEADERS, "webhook-signature": "v1a," + b64(private.sign(content))}
    public_key = "whpk_" + b64(private.public_key().public_bytes_raw())
    assert sw_verify(headers, [public_key]) == SW_VERIFIED


def test_standard_webhooks_v1a_is_accepted_with_a_32_or_64_byte_private_key_secret() -> None:
    private = Ed25519PrivateKey.generate()
    seed, public = private.private_bytes_raw(), private.public_key().public_bytes_raw()
    headers = {
        **SW_HEADERS,
        "webhook-signature": "v1a,"
        + b64(private.sign(f"{SW_ID}.{SW_TIMESTAMP}.".encode() + SW_BODY)),
    }
    assert sw_verify(headers, ["whsk_" + b64(seed)]) == SW_VERIFIED
    assert sw_verify(headers, ["whsk_" + b64(seed + public)]) == SW_VERIFIED


def test_standard_webhooks_v1a_private_key_with_a_mismatched_public_half_is_unusable() -> None:
    seed = bytes(range(32))
    headers = {**SW_HEADERS, "webhook-signature": SW_ED25519_SIGNATURE}
    assert sw_reason(headers, ["whsk_" + b64(seed + b"\0" * 32)]) == "invalid_secret"


def test_standard_webhooks_v1a_signature_from_another_key_is_rejected() -> None:
    other = "whpk_" + b64(Ed25519PrivateKey.generate().public_key().public_bytes_raw())
    headers = {**SW_HEADERS, "webhook-signature": SW_ED25519_SIGNATURE}
    assert sw_reason(headers, [other]) == "no_matching_signature"


def test_standard_webhooks_v1a_signature_made_with_the_second_rotated_key_is_accepted() -> None:
    other = "whpk_" + b64(Ed25519PrivateKey.generate().public_key().public_bytes_raw())
    assert (
        sw_verify(
            {**SW_HEADERS, "webhook-signature": SW_ED25519_SIGNATURE},
            [other, SW_ED25519_PUBLIC_KEY],
        )
        == SW_VERIFIED
    )


def test_standard_webhooks_v1a_signature_over_a_tampered_body_is_rejected() -> None:
    headers = {**SW_HEADERS, "webhook-signature": SW_ED25519_SIGNATURE}
    assert sw_reason(headers, [SW_ED25519_PUBLIC_KEY], tamper(SW_BODY)) == "no_matching_signature"


def test_standard_webhooks_v1_and_v1a_keys_do_not_cross_verify() -> None:
    v1a_headers = {**SW_HEADERS, "webhook-signature": SW_ED25519_SIGNATURE}
    assert sw_reason(v1a_headers, [SW_SECRET]) == "no_matching_signature"
    assert sw_reason(SW_HEADERS, [SW_ED25519_PUBLIC_KEY]) == "no_matching_signature"


def test_standard_webhooks_signature_over_a_tampered_body_is_rejected() -> None:
    assert sw_reason(SW_HEADERS, [SW_SECRET], tamper(SW_BODY)) == "no_matching_signature"


def test_standard_webhooks_signature_replayed_under_another_message_id_is_rejected() -> None:
    headers = {**SW_HEADERS, "webhook-id": "msg_other"}
    assert sw_reason(headers, [SW_SECRET]) == "no_matching_signature"


def test_standard_webhooks_signature_made_with_the_wrong_secret_is_rejected() -> None:
    assert sw_reason(SW_HEADERS, ["whsec_" + b64(b"w" * 32)]) == "no_matching_signature"


def test_standard_webhooks_header_with_only_unknown_versions_is_rejected() -> None:
    headers = {**SW_HEADERS, "webhook-signature": "v2,abc v9,def"}
    assert sw_reason(headers, [SW_SECRET]) == "no_matching_signature"


def test_standard_webhooks_signature_with_stale_timestamp_is_rejected() -> None:
    reason = reason_of(
        "standard_webhooks",
        body=SW_BODY,
        headers=SW_HEADERS,
        secrets=[SW_SECRET],
        now=SW_TIMESTAMP + 301,
    )
    assert reason == "timestamp_too_old"


def test_standard_webhooks_signature_with_future_timestamp_is_rejected() -> None:
    reason = reason_of(
        "standard_webhooks",
        body=SW_BODY,
        headers=SW_HEADERS,
        secrets=[SW_SECRET],
        now=SW_TIMESTAMP - 301,
    )
    assert reason == "timestamp_in_future"


def test_standard_webhooks_tolerance_is_configurable() -> None:
    assert (
        verify(
            "standard_webhooks",
            body=SW_BODY,
            headers=SW_HEADERS,
            secrets=[SW_SECRET],
            now=SW_TIMESTAMP + 3000,
            tolerance_s=3600,
        )
        == SW_VERIFIED
    )


def test_standard_webhooks_non_canonical_base64_of_a_valid_signature_is_rejected() -> None:
    # "...1OF=" decodes to the same bytes as "...1OE=" (only unused padding bits differ).
    non_canonical = SW_SIGNATURE.replace("1OE=", "1OF=")
    assert base64.b64decode(non_canonical[3:]) == base64.b64decode(SW_SIGNATURE[3:])
    headers = {**SW_HEADERS, "webhook-signature": non_canonical}
    assert sw_reason(headers, [SW_SECRET]) == "malformed_header"


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_standard_webhooks_request_missing_a_header_is_rejected_as_missing_header(
    missing: str,
) -> None:
    headers = {k: v for k, v in SW_HEADERS.items() if k != missing}
    assert sw_reason(headers, [SW_SECRET]) == "missing_header"


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("webhook-signature", ""),
        ("webhook-signature", "garbage"),
        ("webhook-signature", "v1"),
        ("webhook-signature", "v1,!!!!"),
        ("webhook-signature", "v1,abc"),  # bad padding
        ("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=é"),
        ("webhook-signature", SW_SIGNATURE + " v1a,%%%"),
        ("webhook-signature", " ".join([SW_ED25519_SIGNATURE] * 9)),  # bounded Ed25519 work
        ("webhook-timestamp", ""),
        ("webhook-timestamp", "abc"),
        ("webhook-timestamp", "1614265330.5"),
        ("webhook-timestamp", "2021-02-25T15:02:10Z"),
        ("webhook-id", ""),
        ("webhook-id", "\ud800"),
    ],
)
def test_standard_webhooks_malformed_header_is_rejected_as_malformed_header(
    header: str, value: str
) -> None:
    assert sw_reason({**SW_HEADERS, header: value}, [SW_SECRET]) == "malformed_header"


# ---------------------------------------------------------------------------------------- stripe

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


def test_stripe_openssl_vector_is_reproduced_by_sign_stripe() -> None:
    assert sign_stripe(STRIPE_BODY, STRIPE_SECRET, NOW) == f"t={NOW},v1={STRIPE_V1}"


def test_stripe_signature_built_with_sign_stripe_is_accepted() -> None:
    headers = {"stripe-signature": sign_stripe(BODY, STRIPE_SECRET, NOW)}
    assert verify(
        "stripe_signature", body=BODY, headers=headers, secrets=[STRIPE_SECRET], now=NOW
    ) == Verified("stripe_signature", NOW)


def test_stripe_header_with_several_v1_where_only_the_second_matches_is_accepted() -> None:
    header = f"t={NOW},v1={'0' * 64},v1={STRIPE_V1},v0={'1' * 64}"
    assert verify(
        "stripe_signature",
        body=STRIPE_BODY,
        headers={"stripe-signature": header},
        secrets=[STRIPE_SECRET],
        now=NOW,
    ) == Verified("stripe_signature", NOW)


def test_stripe_signature_made_with_the_second_rotated_secret_is_accepted() -> None:
    headers = {"stripe-signature": sign_stripe(BODY, "whsec_new", NOW)}
    assert verify(
        "stripe_signature", body=BODY, headers=headers, secrets=["whsec_old", "whsec_new"], now=NOW
    ) == Verified("stripe_signature", NOW)


def test_stripe_header_with_spaces_after_commas_is_accepted() -> None:
    assert verify(
        "stripe_signature",
        body=STRIPE_BODY,
        headers={"stripe-signature": f"t={NOW}, v1={STRIPE_V1}"},
        secrets=[STRIPE_SECRET],
        now=NOW,
    ) == Verified("stripe_signature", NOW)


def test_stripe_signature_over_a_tampered_body_is_rejected() -> None:
    reason = stripe_reason(f"t={NOW},v1={STRIPE_V1}", body=tamper(STRIPE_BODY))
    assert reason == "no_matching_signature"


def test_stripe_signature_made_with_the_wrong_secret_is_rejected() -> None:
    reason = stripe_reason(f"t={NOW},v1={STRIPE_V1}", secrets=["whsec_other"])
    assert reason == "no_matching_signature"


def test_stripe_signature_keyed_with_the_decoded_secret_is_rejected() -> None:
    # Stripe keys the HMAC with the whole "whsec_..." string, unlike Standard Webhooks.
    header = sign_stripe(STRIPE_BODY, STRIPE_SECRET.removeprefix("whsec_"), NOW)
    assert stripe_reason(header) == "no_matching_signature"


def test_stripe_signature_replayed_with_a_different_timestamp_is_rejected() -> None:
    assert stripe_reason(f"t={NOW + 1},v1={STRIPE_V1}") == "no_matching_signature"


def test_stripe_header_with_only_v0_signatures_is_rejected() -> None:
    assert stripe_reason(f"t={NOW},v0={STRIPE_V1}") == "no_matching_signature"


def test_stripe_signature_with_stale_timestamp_is_rejected() -> None:
    header = sign_stripe(STRIPE_BODY, STRIPE_SECRET, NOW - 301)
    assert stripe_reason(header) == "timestamp_too_old"


def test_stripe_signature_with_future_timestamp_is_rejected() -> None:
    header = sign_stripe(STRIPE_BODY, STRIPE_SECRET, NOW + 301)
    assert stripe_reason(header) == "timestamp_in_future"


def test_stripe_request_without_signature_header_is_rejected_as_missing_header() -> None:
    reason = reason_of("stripe_signature", headers={}, secrets=[STRIPE_SECRET])
    assert reason == "missing_header"


@pytest.mark.parametrize(
    "header",
    [
        "",
        "   ",
        "garbage",
        "t=abc,v1=" + STRIPE_V1,
        f"v1={STRIPE_V1}",
        f"t=,v1={STRIPE_V1}",
        f"t={NOW},t={NOW},v1={STRIPE_V1}",
        f"t={NOW},v1=nothex",
        f"t={NOW},v1={'x' * 64}",
        f"t={NOW},v1={STRIPE_V1[:-2]}",
        f"t={NOW},,v1={STRIPE_V1}",
        f"t={NOW},v1",
        f"t={NOW},={STRIPE_V1}",
        f"t=-{NOW},v1={STRIPE_V1}",
        f"t={NOW}.0,v1={STRIPE_V1}",
        f"t={'9' * 5000},v1={STRIPE_V1}",
    ],
)
def test_stripe_malformed_signature_header_is_rejected_as_malformed_header(header: str) -> None:
    assert stripe_reason(header) == "malformed_header"


# --------------------------------------------------------------------------------------- shopify

# Shopify publishes no fixed vector; this one reuses GitHub's secret and payload and was computed
# once with `printf '%s' 'Hello, World!' | openssl dgst -sha256 -hmac "..." -binary | base64`.
SHOPIFY_SIGNATURE = "dXEH6g6yUJ/CESIczphLijdXC211hsIsRvQ3nIsEPhc="


def test_shopify_openssl_vector_is_reproduced_by_sign_shopify() -> None:
    assert sign_shopify(GITHUB_PAYLOAD, GITHUB_SECRET) == SHOPIFY_SIGNATURE


def test_shopify_signature_is_accepted() -> None:
    headers = {"x-shopify-hmac-sha256": SHOPIFY_SIGNATURE}
    assert verify(
        "shopify_hmac", body=GITHUB_PAYLOAD, headers=headers, secrets=[GITHUB_SECRET]
    ) == Verified("shopify_hmac")


def test_shopify_signature_made_with_the_second_rotated_secret_is_accepted() -> None:
    headers = {"x-shopify-hmac-sha256": sign_shopify(BODY, "new")}
    assert verify("shopify_hmac", body=BODY, headers=headers, secrets=["old", "new"]) == Verified(
        "shopify_hmac"
    )


def test_shopify_signature_over_a_tampered_body_is_rejected() -> None:
    headers = {"x-shopify-hmac-sha256": SHOPIFY_SIGNATURE}
    reason = reason_of(
        "shopify_hmac", body=tamper(GITHUB_PAYLOAD), headers=headers, secrets=[GITHUB_SECRET]
    )
    assert reason == "no_matching_signature"


def test_shopify_signature_made_with_the_wrong_secret_is_rejected() -> None:
    headers = {"x-shopify-hmac-sha256": SHOPIFY_SIGNATURE}
    reason = reason_of("shopify_hmac", body=GITHUB_PAYLOAD, headers=headers, secrets=["x"])
    assert reason == "no_matching_signature"


def test_shopify_hex_encoded_signature_is_rejected() -> None:
    # Hex happens to be valid base64 but decodes to the wrong bytes.
    headers = {"x-shopify-hmac-sha256": GITHUB_SIGNATURE.removeprefix("sha256=")}
    reason = reason_of(
        "shopify_hmac", body=GITHUB_PAYLOAD, headers=headers, secrets=[GITHUB_SECRET]
    )
    assert reason == "no_matching_signature"


def test_shopify_non_canonical_base64_of_a_valid_signature_is_rejected() -> None:
    non_canonical = SHOPIFY_SIGNATURE.replace("Phc=", "Phd=")
    assert base64.b64decode(non_canonical) == base64.b64decode(SHOPIFY_SIGNATURE)
    headers = {"x-shopify-hmac-sha256": non_canonical}
    reason = reason_of(
        "shopify_hmac", body=GITHUB_PAYLOAD, headers=headers, secrets=[GITHUB_SECRET]
    )
    assert reason == "malformed_header"


def test_shopify_request_without_hmac_header_is_rejected_as_missing_header() -> None:
    assert reason_of("shopify_hmac", headers={}, secrets=["s"]) == "missing_header"


@pytest.mark.parametrize(
    "value",
    ["", "  ", "garbage!", "abc", "====", "dXEH6g6yUJ/CESIczphLijdXC211hsIsRvQ3nIsEPhc", "ü"],
)
def test_shopify_malformed_hmac_header_is_rejected_as_malformed_header(value: str) -> None:
    headers = {"x-shopify-hmac-sha256": value}
    assert reason_of("shopify_hmac", headers=headers, secrets=["s"]) == "malformed_header"


# --------------------------------------------------------------------------------------- api_key


@pytest.mark.parametrize(
    "headers",
    [
        {"authorization": "Bearer key-123"},
        {"authorization": "bearer key-123"},
        {"authorization": "  Bearer   key-123  "},
        {"x-api-key": "key-123"},
        {"authorization": "Basic dXNlcjpwYXNz", "x-api-key": "key-123"},
    ],
)
def test_api_key_presented_as_bearer_token_or_x_api_key_is_accepted(
    headers: dict[str, str],
) -> None:
    assert verify("api_key", body=BODY, headers=headers, secrets=["key-123"]) == Verified("api_key")


def test_api_key_matching_the_second_rotated_key_is_accepted() -> None:
    assert verify(
        "api_key", body=BODY, headers={"x-api-key": "new"}, secrets=["old", "new"]
    ) == Verified("api_key")


@pytest.mark.parametrize(
    "headers",
    [
        {"authorization": "Bearer key-124"},
        {"authorization": "Bearer key-12"},
        {"authorization": "Bearer KEY-123"},
        {"x-api-key": "key-1234"},
        {"x-api-key": "ключ"},
    ],
)
def test_api_key_that_does_not_match_is_rejected(headers: dict[str, str]) -> None:
    assert reason_of("api_key", headers=headers, secrets=["key-123"]) == "no_matching_signature"


def test_api_key_request_without_credentials_is_rejected_as_missing_header() -> None:
    assert reason_of("api_key", headers={}, secrets=["key-123"]) == "missing_header"
    assert reason_of("api_key", headers={"x-api-key": ""}, secrets=["key-123"]) == (
        "missing_header"
    )


@pytest.mark.parametrize(
    "authorization", ["", "Bearer", "Bearer   ", "Basic a2V5LTEyMw==", "key-123", "Token key-123"]
)
def test_api_key_malformed_authorization_header_is_rejected_as_malformed_header(
    authorization: str,
) -> None:
    headers = {"authorization": authorization}
    assert reason_of("api_key", headers=headers, secrets=["key-123"]) == "malformed_header"


def test_api_key_with_lone_surrogate_is_rejected_as_malformed_header() -> None:
    headers = {"x-api-key": "\udcff"}
    assert reason_of("api_key", headers=headers, secrets=["key-123"]) == "malformed_header"


# ------------------------------------------------------------------------------------ robustness

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


@pytest.mark.parametrize("scheme", sorted(HEADER_NAMES))
def test_verifier_raises_only_signature_error_for_random_garbage_headers(scheme: str) -> None:
    rng = random.Random(f"signatures-{scheme}")
    # No secret appears in VALID_LOOKING, so a few random edits can never produce a valid request.
    secrets = {"standard_webhooks": [SW_SECRET, SW_ED25519_PUBLIC_KEY]}.get(scheme, ["fuzz-key"])
    for _ in range(300):
        names = HEADER_NAMES[scheme]
        # Random subset, so missing and present-but-garbage headers are both exercised.
        headers = {name: garbage(rng) for name in names if rng.random() < 0.9}
        with pytest.raises(SignatureError) as excinfo:
            verify(scheme, body=rng.randbytes(20), headers=headers, secrets=secrets, now=NOW)
        assert excinfo.value.reason in {
            "missing_header",
            "malformed_header",
            "timestamp_too_old",
            "timestamp_in_future",
            "no_matching_signature",
        }


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


@pytest.mark.parametrize("scheme", sorted(HEADER_NAMES))
def test_verifier_raises_only_signature_error_for_mutations_of_a_valid_request(
    scheme: str,
) -> None:
    # Starting from a valid request reaches the deep paths (timestamp checks, MAC comparison)
    # that pure garbage rarely gets past. An edit can be harmless (a hex digit's case, trailing
    # space), so success is allowed here; what is not allowed is any other exception type.
    rng = random.Random(f"mutations-{scheme}")
    secrets = [SW_SECRET] if scheme == "standard_webhooks" else ["fuzz-key"]
    for _ in range(300):
        headers = valid_headers(scheme)
        # Usually perturb one header and keep the others valid, so later checks get exercised.
        targets = list(headers) if rng.random() < 0.2 else [rng.choice(list(headers))]
        for name in targets:
            roll = rng.random()
            if roll < 0.1:
                del headers[name]
            else:
                headers[name] = garbage(rng) if roll < 0.3 else mutate(rng, headers[name])
        try:
            verify(scheme, body=BODY, headers=headers, secrets=secrets, now=NOW)
        except SignatureError:
            pass


@pytest.mark.parametrize("scheme", sorted(HEADER_NAMES))
def test_valid_headers_used_by_the_mutation_test_do_verify(scheme: str) -> None:
    secrets = [SW_SECRET] if scheme == "standard_webhooks" else ["fuzz-key"]
    assert verify(
        scheme, body=BODY, headers=valid_headers(scheme), secrets=secrets, now=NOW
    ) == Verified(scheme, NOW if scheme in SIGNED_AT_SCHEMES else None)


def test_standard_webhooks_raises_only_signature_error_for_random_garbage_secrets() -> None:
    rng = random.Random("signatures-secrets")
    for _ in range(300):
        secret = rng.choice(["whsec_", "whpk_", "whsk_", ""]) + garbage(rng)
        with pytest.raises(SignatureError):
            sw_verify(SW_HEADERS | {"webhook-signature": SW_ED25519_SIGNATURE}, [secret])
