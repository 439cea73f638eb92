"""Settings of the sync service, read from `SYNC_*` environment variables."""

from __future__ import annotations

import msgspec

PREFIX = "SYNC_"


class SyncSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Typed, documented, failing fast; defaults work under `make run`."""

    host: str = "127.0.0.1"
    port: int = 8003
    # The consumer group of the scheduler on the snapshot topic: replicas split its partitions.
    group_id: str = "sync"
    # `api.stripe.com=http://127.0.0.1:9999,...`: declared provider hosts served locally (the
    # permission check still runs on the declared host first). Empty in production.
    host_overrides: str = ""
    # OAuth token endpoints on local or private addresses, plain http (development and tests
    # only): otherwise a refresh posts only to an https tokenUrl on a public host, the rule the
    # registry applies at deploy and connect (a host in `host_overrides` is the operator's).
    oauth_allow_local_providers: bool = False
    # Wall-clock limit of one connector invocation (a stream page, a job, a test connection).
    invocation_time_limit_s: float = 30.0
    # Pages one run reads at most; the next run goes on from the committed cursor.
    max_pages_per_run: int = 100
    # Statuses on sync.stream-status.v1 (compacted: readers want the latest): at most one
    # message per stream per `status_every_s`; a `running` status waits `status_gather_s` first,
    # so a short run publishes only its end. Redis and the API see every change at once.
    status_every_s: float = 1.0
    status_gather_s: float = 0.25
    # Runs of this replica in flight at once (each one stream or job).
    max_concurrent_runs: int = 32
    # A run lease lives this long and is renewed every third of it while the run goes on.
    lease_ttl_s: float = 30.0
    # Activation runs start up to this fraction of their interval (at most 1 s) late, by
    # installation, so that thousands activated together do not start in the same instant.
    jitter_fraction: float = 0.1
    # Consecutive failures back off base * 2^(n-1) seconds, capped.
    backoff_base_s: float = 5.0
    backoff_max_s: float = 900.0
    # Provider manners: page calls per second per installation (token bucket), burst.
    requests_per_second: float = 25.0
    request_burst: int = 25
    # Cursor history entries kept per stream.
    cursor_history_limit: int = 50
    # Dedupe keys live at least as long as the providers' retry horizon (as ingress').
    dedupe_ttl_s: int = 7 * 24 * 3600
    # A pending claim outlives the producer's request timeout (a publish in doubt settles first).
    dedupe_pending_s: float = 30.0
    # How long a page's records may wait for Kafka's acknowledgement before the page fails.
    publish_timeout_s: float = 10.0
    # A polled record older than this that the webhook path never delivered counts as a gap.
    webhook_gap_window_s: float = 900.0
    # Refresh an OAuth access token this long before it expires.
    oauth_refresh_margin_s: float = 300.0
    # after_* hooks: the consumer group on entities.changes.v1, attempts per hook and change
    # (then an error line in Logs), and the first retry's delay (doubling, capped at 30 s).
    after_hooks_group_id: str = "sync-after-hooks"
    after_hook_attempts: int = 3
    after_hook_backoff_s: float = 1.0
    # Where the registry answers (the internal OAuth report endpoint).
    registry_url: str = "http://127.0.0.1:8001"

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
