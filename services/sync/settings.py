"""Settings of the sync service, read from `SYNC_*` environment variables."""

from __future__ import annotations

import msgspec

PREFIX = "SYNC_"


class SyncSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Typed, documented, failing fast; defaults work under `make run`."""

    host: str = "127.0.0.1"
    port: int = 8003
    group_id: str = "sync"
    # `api.stripe.com=http://127.0.0.1:9999,...`: declared provider hosts served locally (the
    # permission check still runs on the declared host first). Empty in production.
    host_overrides: str = ""
    # Wall-clock limit of one connector invocation (a stream page, a test connection).
    invocation_time_limit_s: float = 30.0

    def parsed_host_overrides(self) -> dict[str, str]:
        """The overrides as host → base URL; a malformed entry stops the service."""
        from services.base.settings import SettingsError

        overrides: dict[str, str] = {}
        for entry in filter(None, (e.strip() for e in self.host_overrides.split(","))):
            host, sep, base = entry.partition("=")
            if not sep or not base.startswith(("http://", "https://")):
                raise SettingsError(
                    f"invalid setting SYNC_HOST_OVERRIDES entry {entry!r}: expected host=http://..."
                )
            overrides[host.strip().lower()] = base.strip()
        return overrides
