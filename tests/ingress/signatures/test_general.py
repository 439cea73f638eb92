"""Every scheme: the registry of schemes, unknown schemes, secrets that cannot verify."""

from __future__ import annotations

import time

import pytest

from services.ingress.signatures import (
    CONNECTOR_ONLY_SCHEMES,
    SCHEMES,
    SignatureError,
    Verified,
    sign_github,
    sign_stripe,
    verify,
)
from tests.ingress.signatures.vectors import (
    BODY,
    reason_of,
)


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
