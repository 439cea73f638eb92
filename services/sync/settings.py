"""Settings of the sync service, read from `SYNC_*` environment variables."""

from __future__ import annotations

import msgspec

PREFIX = "SYNC_"


class SyncSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Typed, documented, failing fast; defaults work under `make run`."""

    host: str = "127.0.0.1"
    port: int = 8003
    group_id: str = "sync"
