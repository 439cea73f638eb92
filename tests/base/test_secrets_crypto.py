"""Spec tests for services.base.secrets_crypto (envelope encryption + keyring)."""

from __future__ import annotations

import base64

import msgspec
import pytest

from services.base.secrets_crypto import (
    DecryptionError,
    Keyring,
    KeyringError,
    SealedSecret,
    SecretBinding,
)

KEY_V1 = bytes(range(32))
KEY_V2 = bytes(range(100, 132))
# 0xfb/0xff bytes make standard base64 use '+' and '/', urlsafe use '-' and '_'.
KEY_ALPHABET = bytes([0xFB, 0xFF] * 16)
PLAINTEXT = b"sk_live_super-secret-token-1234567890"
BINDING = SecretBinding(workspace_id="ws_1", installation_id="inst_1", name="API_KEY", revision=3)


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def ring(*entries: tuple[str, bytes]) -> Keyring:
    return Keyring.parse(",".join(f"{version}:{b64(key)}" for version, key in entries))


def flip_byte(data: bytes, index: int = 0) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


@pytest.fixture
def ring_v1() -> Keyring:
    return ring(("v1", KEY_V1))


# --- round trip and binding -------------------------------------------------------------------


def test_seal_then_open_with_same_binding_returns_plaintext(ring_v1: Keyring) -> None:
    sealed = ring_v1.seal(PLAINTEXT, BINDING)
    assert sealed.kek_version == "v1"
    assert ring_v1.open(sealed, BINDING) == PLAINTEXT


def test_empty_plaintext_round_trips(ring_v1: Keyring) -> None:
    assert ring_v1.open(ring_v1.seal(b"", BINDING), BINDING) == b""


@pytest.mark.parametrize(
    "changes",
    [
        {"workspace_id": "ws_2"},
        {"installation_id": "inst_2"},
        {"name": "OTHER_KEY"},
        {"revision": 4},
    ],
    ids=["workspace", "installation", "name", "revision"],
)
def test_open_with_any_binding_field_changed_raises_decryption_error(
    ring_v1: Keyring, changes: dict[str, object]
) -> None:
    sealed = ring_v1.seal(PLAINTEXT, BINDING)
    with pytest.raises(DecryptionError):
        ring_v1.open(sealed, msgspec.structs.replace(BINDING, **changes))


def test_binding_fields_are_length_prefixed_not_joined(ring_v1: Keyring) -> None:
    a = SecretBinding(workspace_id="ws_1", installation_id="inst_1", name="AB", revision=1)
    b = SecretBinding(workspace_id="ws_1inst_", installation_id="1", name="AB", revision=1)
    c = SecretBinding(workspace_id="ws_1", installation_id="inst_1A", name="B", revision=1)
    sealed = ring_v1.seal(PLAINTEXT, a)
    for other in (b, c):
        with pytest.raises(DecryptionError):
            ring_v1.open(sealed, other)


# --- tampering --------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["ciphertext", "wrapped_key", "nonce", "wrap_nonce"])
@pytest.mark.parametrize("index", [0, -1])
def test_one_tampered_byte_raises_decryption_error(
    ring_v1: Keyring, field: str, index: int
) -> None:
    sealed = ring_v1.seal(PLAINTEXT, BINDING)
    value = getattr(sealed, field)
    tampered = msgspec.structs.replace(sealed, **{field: flip_byte(value, index % len(value))})
    with pytest.raises(DecryptionError) as excinfo:
        ring_v1.open(tampered, BINDING)
    assert PLAINTEXT.decode() not in str(excinfo.value)


@pytest.mark.parametrize("field", ["ciphertext", "wrapped_key", "nonce", "wrap_nonce"])
def test_truncated_field_raises_decryption_error(ring_v1: Keyring, field: str) -> None:
    sealed = ring_v1.seal(PLAINTEXT, BINDING)
    truncated = msgspec.structs.replace(sealed, **{field: getattr(sealed, field)[:4]})
    with pytest.raises(DecryptionError):
        ring_v1.open(truncated, BINDING)


def test_relabelled_kek_version_raises_decryption_error() -> None:
    # Both keys present: relabelling v1 -> v2 must fail authentication, not pick another key.
    both = ring(("v2", KEY_V2), ("v1", KEY_V1))
    sealed = ring(("v1", KEY_V1)).seal(PLAINTEXT, BINDING)
    with pytest.raises(DecryptionError):
        both.open(msgspec.structs.replace(sealed, kek_version="v2"), BINDING)


def test_unknown_kek_version_error_does_not_echo_malformed_label(ring_v1: Keyring) -> None:
    label = b64(KEY_V2) + "!"
    sealed = msgspec.structs.replace(ring_v1.seal(PLAINTEXT, BINDING), kek_version=label)
    with pytest.raises(DecryptionError) as excinfo:
        ring_v1.open(sealed, BINDING)
    assert "<malformed>" in str(excinfo.value)
    assert b64(KEY_V2)[:12] not in str(excinfo.value)


def test_same_version_with_different_key_raises_decryption_error(ring_v1: Keyring) -> None:
    sealed = ring_v1.seal(PLAINTEXT, BINDING)
    with pytest.raises(DecryptionError):
        ring(("v1", KEY_V2)).open(sealed, BINDING)


# --- freshness and confidentiality ------------------------------------------------------------


def test_two_seals_of_same_plaintext_differ_in_every_random_field(ring_v1: Keyring) -> None:
    first = ring_v1.seal(PLAINTEXT, BINDING)
    second = ring_v1.seal(PLAINTEXT, BINDING)
    assert first.nonce != second.nonce
    assert first.wrap_nonce != second.wrap_nonce
    assert first.wrapped_key != second.wrapped_key
    assert first.ciphertext != second.ciphertext
    # Fresh DEK, not just a fresh nonce: swapping the wrapped keys breaks both records.
    with pytest.raises(DecryptionError):
        ring_v1.open(msgspec.structs.replace(first, wrapped_key=second.wrapped_key), BINDING)


def test_sealed_secret_does_not_contain_plaintext_bytes(ring_v1: Keyring) -> None:
    sealed = ring_v1.seal(PLAINTEXT, BINDING)
    encoded = msgspec.json.encode(sealed)
    for blob in (sealed.ciphertext, sealed.wrapped_key, encoded):
        assert PLAINTEXT not in blob
        assert PLAINTEXT[:8] not in blob
    assert KEY_V1 not in encoded and b64(KEY_V1).encode() not in encoded


def test_nonces_are_96_bit(ring_v1: Keyring) -> None:
    sealed = ring_v1.seal(PLAINTEXT, BINDING)
    assert len(sealed.nonce) == 12 and len(sealed.wrap_nonce) == 12
    assert len(sealed.wrapped_key) == 32 + 16


# --- rotation ---------------------------------------------------------------------------------


def test_rotation_new_primary_opens_old_rewrap_moves_to_primary_and_retirement_holds() -> None:
    old_ring = ring(("v1", KEY_V1))
    rotated = ring(("v2", KEY_V2), ("v1", KEY_V1))
    retired = ring(("v2", KEY_V2))

    sealed_v1 = old_ring.seal(PLAINTEXT, BINDING)
    assert rotated.primary_version == "v2"
    assert rotated.open(sealed_v1, BINDING) == PLAINTEXT
    assert rotated.seal(PLAINTEXT, BINDING).kek_version == "v2"

    rewrapped = rotated.rewrap(sealed_v1, BINDING)
    assert rewrapped.kek_version == "v2"
    assert rewrapped.ciphertext == sealed_v1.ciphertext
    assert rewrapped.nonce == sealed_v1.nonce
    assert rewrapped.wrapped_key != sealed_v1.wrapped_key
    assert rotated.open(rewrapped, BINDING) == PLAINTEXT

    assert retired.open(rewrapped, BINDING) == PLAINTEXT
    with pytest.raises(DecryptionError) as excinfo:
        retired.open(sealed_v1, BINDING)
    assert isinstance(excinfo.value, KeyringError)  # unknown version is both kinds of error
    assert "'v1'" in str(excinfo.value)
    with pytest.raises(DecryptionError):
        old_ring.open(rewrapped, BINDING)


def test_rewrap_of_already_primary_secret_is_a_no_op(ring_v1: Keyring) -> None:
    sealed = ring_v1.seal(PLAINTEXT, BINDING)
    assert ring_v1.rewrap(sealed, BINDING) is sealed
    assert ring_v1.rewrap(sealed, BINDING) == sealed


def test_rewrap_with_wrong_binding_raises_decryption_error() -> None:
    sealed = ring(("v1", KEY_V1)).seal(PLAINTEXT, BINDING)
    rotated = ring(("v2", KEY_V2), ("v1", KEY_V1))
    with pytest.raises(DecryptionError):
        rotated.rewrap(sealed, msgspec.structs.replace(BINDING, revision=99))


def test_rewrapped_secret_stays_bound_to_its_binding() -> None:
    sealed = ring(("v1", KEY_V1)).seal(PLAINTEXT, BINDING)
    rotated = ring(("v2", KEY_V2), ("v1", KEY_V1))
    rewrapped = rotated.rewrap(sealed, BINDING)
    with pytest.raises(DecryptionError):
        rotated.open(rewrapped, msgspec.structs.replace(BINDING, name="OTHER"))


# --- parsing ----------------------------------------------------------------------------------


def test_parse_first_entry_is_primary_and_versions_keep_order() -> None:
    keyring = ring(("v3", KEY_V2), ("v1", KEY_V1))
    assert keyring.primary_version == "v3"
    assert keyring.versions == ("v3", "v1")


def test_parse_accepts_standard_and_urlsafe_base64_with_or_without_padding() -> None:
    standard = base64.b64encode(KEY_ALPHABET).decode()
    urlsafe = base64.urlsafe_b64encode(KEY_ALPHABET).decode()
    assert "+" in standard and "/" in standard and "-" in urlsafe and "_" in urlsafe
    rings = [
        Keyring.parse(f"v1:{standard}"),
        Keyring.parse(f"v1:{urlsafe}"),
        Keyring.parse(f" v1:{urlsafe.rstrip('=')} "),
    ]
    sealed = rings[0].seal(PLAINTEXT, BINDING)
    for keyring in rings:
        assert keyring.open(sealed, BINDING) == PLAINTEXT


def test_parse_tolerates_whitespace_around_entries() -> None:
    keyring = Keyring.parse(f" v2:{b64(KEY_V2)} ,\n v1:{b64(KEY_V1)}\n")
    assert keyring.versions == ("v2", "v1")


@pytest.mark.parametrize("text", ["", "   ", "\n"])
def test_parse_empty_text_raises_keyring_error(text: str) -> None:
    with pytest.raises(KeyringError, match="empty"):
        Keyring.parse(text)


def assert_safe_error(text: str, expected: str, secrets: list[str]) -> None:
    with pytest.raises(KeyringError) as excinfo:
        Keyring.parse(text)
    message = str(excinfo.value)
    assert expected in message
    for secret in secrets:
        assert secret not in message
    # No chained decoder exception may carry the key text into tracebacks.
    error = excinfo.value
    assert error.__cause__ is None
    assert error.__context__ is None or error.__suppress_context__


def test_parse_missing_colon_names_entry_and_hides_key() -> None:
    bare = b64(KEY_V2)
    assert_safe_error(f"v1:{b64(KEY_V1)},{bare}", "entry 2", [bare, bare[:12], b64(KEY_V1)[:12]])


def test_parse_bad_base64_names_entry_and_version_and_hides_key() -> None:
    junk = "not*valid*base64*at-all!!"
    assert_safe_error(f"v2:{junk}", "entry 1 (version 'v2')", [junk, "not*valid"])


def test_parse_16_byte_key_names_entry_and_size_and_hides_key() -> None:
    short = b64(KEY_V1[:16])
    assert_safe_error(f"v2:{b64(KEY_V2)},v1:{short}", "entry 2 (version 'v1')", [short, short[:12]])
    assert_safe_error(f"v1:{short}", "got 16", [short])


def test_parse_duplicate_version_names_entry_and_hides_key() -> None:
    text = f"v1:{b64(KEY_V1)},v1:{b64(KEY_V2)}"
    assert_safe_error(text, "entry 2: duplicate version 'v1'", [b64(KEY_V1), b64(KEY_V2)])


def test_parse_invalid_version_is_not_echoed() -> None:
    assert_safe_error(f"bad version!:{b64(KEY_V1)}", "entry 1", ["bad version!", b64(KEY_V1)])


def test_parse_trailing_comma_is_an_error() -> None:
    assert_safe_error(f"v1:{b64(KEY_V1)},", "entry 2", [b64(KEY_V1)])


# --- generate_entry ---------------------------------------------------------------------------


def test_generate_entry_yields_fresh_parseable_32_byte_keys() -> None:
    first, second = Keyring.generate_entry("v7"), Keyring.generate_entry("v7")
    assert first != second
    version, _, key = first.partition(":")
    assert version == "v7"
    assert len(base64.urlsafe_b64decode(key)) == 32
    keyring = Keyring.parse(f"{first},{Keyring.generate_entry('v6')}")
    assert keyring.versions == ("v7", "v6")
    assert keyring.open(keyring.seal(PLAINTEXT, BINDING), BINDING) == PLAINTEXT


def test_generate_entry_rejects_invalid_version() -> None:
    with pytest.raises(KeyringError):
        Keyring.generate_entry("has:colon")


# --- log safety -------------------------------------------------------------------------------


def test_repr_and_describe_show_versions_but_never_keys() -> None:
    keyring = ring(("v2", KEY_V2), ("v1", KEY_V1))
    for text in (repr(keyring), keyring.describe(), str(keyring)):
        assert "v2" in text and "v1" in text
        for key in (KEY_V1, KEY_V2):
            for encoded in (b64(key), base64.urlsafe_b64encode(key).decode(), key.hex()):
                assert encoded[:12] not in text
            assert repr(key)[2:14] not in text


# --- serialisation ----------------------------------------------------------------------------


def test_sealed_secret_round_trips_through_msgspec_json(ring_v1: Keyring) -> None:
    sealed = ring_v1.seal(PLAINTEXT, BINDING)
    encoded = msgspec.json.encode(sealed)
    as_dict = msgspec.json.decode(encoded)
    assert set(as_dict) == {"kek_version", "wrapped_key", "wrap_nonce", "nonce", "ciphertext"}
    assert base64.b64decode(as_dict["ciphertext"]) == sealed.ciphertext
    decoded = msgspec.json.decode(encoded, type=SealedSecret)
    assert decoded == sealed
    assert ring_v1.open(decoded, BINDING) == PLAINTEXT


def test_sealed_secret_and_binding_are_immutable(ring_v1: Keyring) -> None:
    sealed = ring_v1.seal(PLAINTEXT, BINDING)
    with pytest.raises(AttributeError):
        sealed.kek_version = "v9"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        BINDING.revision = 9  # type: ignore[misc]
