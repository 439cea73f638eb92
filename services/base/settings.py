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
    # How long the broker waits for a consumer group member's heartbeat before it hands the
    # member's partitions to others. The embedded broker also holds every join for half of it,
    # so a service starts faster with a short one (`backfill up` and the tests: 6 s, the
    # lowest real Kafka accepts by default). aiokafka heartbeats from the event loop: a loop
    # stalled longer than this loses the member its partitions (a rebalance, not data loss).
    kafka_session_timeout_ms: int = 10_000
    redis_url: str = "redis://127.0.0.1:16379/0"
    secrets_keyring: str = ""
    # Shared bearer token for service-to-service calls that carry plaintext (test-connection).
    internal_token: str = ""
    log_level: str = "INFO"
    # Extension code runs in locked-down worker processes (runtime/isolated). Where isolation
    # cannot be set up the service refuses to start, unless RUNTIME_ALLOW_IN_PROCESS=true
    # (development only) lets it run extension code inside itself, loudly.
    runtime_isolation: bool = True
    runtime_allow_in_process: bool = False
    # Warm workers per service process (each serves one workspace until it is recycled).
    runtime_workers: int = 4
    # Invocations of one tenant queued on one worker (pipelining: no idle gap between them).
    runtime_pipeline_depth: int = 8
    # Address-space limit of one worker (RLIMIT_AS).
    runtime_memory_mb: int = 512
    # A script's secret reads are published at most once per interval per identity.
    runtime_secret_read_interval_s: float = 300.0


# Clients of our own services (the console, the CLI) drop a pooled connection idle this long,
# well before a service's keep-alive (`HttpLimits.keep_alive_s`) closes it: a request written on
# a connection the server is closing at that instant fails with a read error, and a POST cannot
# be sent again safely. Keep `HTTP_KEEP_ALIVE_S` above it.
CLIENT_IDLE_S = 2.0


class HttpLimits(msgspec.Struct, frozen=True, kw_only=True):
    """`HTTP_*`: how much a client may hold of a service (services/base/connections.py)."""

    # Connections (and requests) served at once; past it a request is answered 503 at once.
    # Sized for the descriptors serve() raises the soft limit to; idle clients are cut early.
    limit_concurrency: int = 4096
    # An idle keep-alive connection is closed after this long (keep it above CLIENT_IDLE_S).
    keep_alive_s: float = 5.0
    # A connection must deliver a complete request head this soon after connecting (or after
    # its previous response), or it is closed: slow and half-open clients free their slot.
    header_timeout_s: float = 10.0
    # Pending connections the kernel queues before accept.
    backlog: int = 2048
    # Largest request head (request line and headers) accepted (h11; httptools has its own).
    max_head_bytes: int = 64 * 1024

    def __post_init__(self) -> None:
        if self.limit_concurrency < 1:
            raise msgspec.ValidationError("must be at least 1 - at `$.limit_concurrency`")
        if self.keep_alive_s <= 0 or self.header_timeout_s <= 0:
            raise msgspec.ValidationError("must be positive - at `$.header_timeout_s`")


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
