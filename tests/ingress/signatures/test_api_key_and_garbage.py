"""API keys, and random or mutated headers: a clean rejection, never a crash."""

from __future__ import annotations

import random

import pytest

from services.ingress.signatures import (
    SignatureError,
    Verified,
    verify,
)
from tests.ingress.signatures.vectors import (
    BODY,
    HEADER_NAMES,
    NOW,
    SIGNED_AT_SCHEMES,
    SW_ED25519_PUBLIC_KEY,
    SW_ED25519_SIGNATURE,
    SW_HEADERS,
    SW_SECRET,
    garbage,
    mutate,
    reason_of,
    sw_verify,
    valid_headers,
)


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
