"""Standard Webhooks (v1 and v1a): spec vectors, rotation and every rejection."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.ingress.signatures import (
    sign_standard_webhooks,
    verify,
)
from tests.ingress.signatures.vectors import (
    SW_BODY,
    SW_ED25519_PUBLIC_KEY,
    SW_ED25519_SECRET_KEY,
    SW_ED25519_SIGNATURE,
    SW_HEADERS,
    SW_ID,
    SW_SECRET,
    SW_SIGNATURE,
    SW_TIMESTAMP,
    SW_VERIFIED,
    b64,
    reason_of,
    sw_reason,
    sw_verify,
    tamper,
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
