"""Settings of the console service, read from `CONSOLE_*` environment variables."""

from __future__ import annotations

import msgspec

PREFIX = "CONSOLE_"


class ConsoleSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Typed, documented, failing fast; defaults work under `make run`."""

    host: str = "127.0.0.1"
    port: int = 8000
    registry_url: str = "http://127.0.0.1:8001"
    ingress_url: str = "http://127.0.0.1:8002"
    sync_url: str = "http://127.0.0.1:8003"
    logs_url: str = "http://127.0.0.1:8004"
