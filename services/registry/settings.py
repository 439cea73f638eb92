"""Settings of the registry service, read from `REGISTRY_*` environment variables."""

from __future__ import annotations

import msgspec

PREFIX = "REGISTRY_"


class RegistrySettings(msgspec.Struct, frozen=True, kw_only=True):
    """Typed, documented, failing fast; defaults work under `make run`."""

    host: str = "127.0.0.1"
    port: int = 8001
