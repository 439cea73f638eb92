"""GitHub and Slack signatures: published vectors, rotation and every rejection."""

from __future__ import annotations

import pytest

from services.ingress.signatures import (
    Verified,
    sign_github,
    sign_slack,
    verify,
)
from tests.ingress.signatures.vectors import (
    BODY,
    GITHUB_PAYLOAD,
    GITHUB_SECRET,
    GITHUB_SIGNATURE,
    NOW,
    SLACK_BODY,
    SLACK_HEADERS,
    SLACK_SECRET,
    SLACK_SIGNATURE,
    SLACK_TIMESTAMP,
    reason_of,
    tamper,
)


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
