"""Stripe and Shopify signatures: vectors, rotation and every rejection."""

from __future__ import annotations

import base64

import pytest

from services.ingress.signatures import (
    Verified,
    sign_shopify,
    sign_stripe,
    verify,
)
from tests.ingress.signatures.vectors import (
    BODY,
    GITHUB_PAYLOAD,
    GITHUB_SECRET,
    GITHUB_SIGNATURE,
    NOW,
    SHOPIFY_SIGNATURE,
    STRIPE_BODY,
    STRIPE_SECRET,
    STRIPE_V1,
    reason_of,
    stripe_reason,
    tamper,
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
