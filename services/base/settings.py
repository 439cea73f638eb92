"""Typed settings read once from the environment; a bad value stops the service, naming it."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import TypeVar

import msgspec

from services.base.secrets_crypto import Keyring, KeyringError

S = TypeVar("S", bound=msgspec.Struct)


class SettingsError(SystemExit):
    """A setting that cannot be used; the message names the environment variable."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InfraSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Connections every service shares, unprefixed so one env block configures the suite."""

    kafka_bootstrap_servers: str = "127.0.0.1:19092"
    # Off for the embedded Tansu broker (it lacks InitProducerId); on for real Kafka.
    kafka_enable_idempotence: bool = False
    redis_url: str = "redis://127.0.0.1:16379/0"
    secrets_keyring: str = ""
    # Shared bearer token for service-to-service calls that carry plaintext (test-connection).
    internal_token: str = ""
    log_level: str = "INFO"


_PATH = re.compile(r"at `\$\.(?P<field>[a-z0-9_]+)")


def load(cls: type[S], prefix: str = "", env: Mapping[str, str] | None = None) -> S:
    """Build `cls` from `PREFIX_FIELD` variables; unknown-typed values are coerced from text."""
    env = os.environ if env is None else env
    raw: dict[str, str] = {}
    for name in cls.__struct_fields__:
        value = env.get(f"{prefix}{name.upper()}")
        if value is not None:
            raw[name] = value
    try:
        return msgspec.convert(raw, cls, strict=False)
    except msgspec.ValidationError as error:
        found = _PATH.search(str(error))
        field = found.group("field") if found else ""
        variable = f"{prefix}{field.upper()}" if field else f"{prefix}*"
        detail = _PATH.sub("", str(error)).strip(" -")
        raise SettingsError(f"invalid setting {variable}={raw.get(field)!r}: {detail}") from None


def load_keyring(settings: InfraSettings) -> Keyring:
    """The parsed SECRETS_KEYRING; a bad one stops the service naming the variable, not a key."""
    try:
        return Keyring.parse(settings.secrets_keyring)
    except KeyringError as error:
        raise SettingsError(f"invalid setting SECRETS_KEYRING: {error}") from None
