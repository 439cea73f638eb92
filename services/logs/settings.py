"""Settings of the logs service, read from `LOGS_*` environment variables."""

from __future__ import annotations

import msgspec

PREFIX = "LOGS_"


class LogsSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Typed, documented, failing fast; defaults work under `make run`."""

    host: str = "127.0.0.1"
    port: int = 8004
    group_id: str = "logs"
    audit_keep: int = 10_000
    # Newest log lines kept per extension and workspace; older ones are dropped.
    lines_keep: int = 10_000
