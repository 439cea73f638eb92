"""Settings of the logs service, read from `LOGS_*` environment variables."""

from __future__ import annotations

import msgspec

PREFIX = "LOGS_"


class LogsSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Typed, documented, failing fast; defaults work under `make run`."""

    host: str = "127.0.0.1"
    port: int = 8004
    group_id: str = "logs"
    # Empty: the embedded ClickHouse engine (chDB) in `data_dir`, owned by this one process.
    # Set to `http(s)://user:password@host:8123/database` for a ClickHouse server or cluster
    # (several logs replicas can then share it); same SQL, same client code.
    clickhouse_url: str = ""
    data_dir: str = ".backfill/logs-store"
    # Retention: lines older than this many days expire (a TTL); per-workspace overrides as
    # `workspace_id=days/max_lines,...` (either part may be empty).
    retention_days: int = 14
    max_lines_per_workspace: int = 5_000_000
    retention_overrides: str = ""
    retention_interval_s: float = 300.0
    # A query without `since` looks this far back (bounded scans keep p99 low).
    default_window_s: float = 7 * 86_400.0
    # The other topics' consumer: a Kafka batch of up to `batch_max_records` is one insert.
    batch_max_records: int = 5_000
    batch_timeout_ms: int = 50
    # Log lines (their own consumer): an insert takes every line read meanwhile, up to
    # `lines_max_records` (large parts, few merges; an insert holds the embedded store, so
    # a larger one delays queries longer). `lines_poll_ms` bounds a read's wait when nothing
    # is there; `lines_fetch_max_wait_ms` how long the broker may hold a fetch (tail latency).
    lines_max_records: int = 50_000
    lines_poll_ms: int = 10
    lines_fetch_max_wait_ms: int = 20
    # Live tail: each subscriber may hold this many undelivered lines; past it, it is dropped.
    tail_queue_size: int = 1_000
    tail_heartbeat_s: float = 15.0
    # False (one process, the embedded store): the storing consumer feeds the tails after each
    # insert. True (several replicas on a server): each process also reads the whole topic in
    # its own consumer group for its tails, since its storing consumer sees only some partitions.
    tail_own_group: bool = False
    # Alerts.
    alert_rules_cache_s: float = 2.0
    alert_retry_horizon_s: float = 6 * 3_600.0
    alert_retry_base_s: float = 5.0
    alert_retry_cap_s: float = 900.0
    alert_timeout_s: float = 10.0
    alert_secret_overlap_s: float = 24 * 3_600.0
    alert_poll_s: float = 0.5
    # Attempts in flight at once per replica (a slow destination holds one, never the queue).
    alert_concurrency: int = 50
    # Development only: allow http:// and private, loopback and link-local alert targets.
    alert_allow_private_targets: bool = False

    def __post_init__(self) -> None:
        """Fail fast on a malformed retention override (instead of at the first insert)."""
        if self.alert_concurrency < 1:
            raise ValueError(f"LOGS_ALERT_CONCURRENCY: at least 1, got {self.alert_concurrency}")
        for entry in filter(None, (e.strip() for e in self.retention_overrides.split(","))):
            workspace, sep, limits = entry.partition("=")
            day_part, _, line_part = limits.partition("/")
            if (
                not sep
                or not workspace.strip()
                or not all(p.strip().isdigit() for p in (day_part, line_part) if p.strip())
            ):
                raise ValueError(
                    f"LOGS_RETENTION_OVERRIDES: expected workspace_id=days/max_lines, got {entry!r}"
                )

    def retention_days_overrides(self) -> dict[str, int]:
        """Workspaces whose retention in days is not `retention_days`."""
        found = {}
        for entry in filter(None, (e.strip() for e in self.retention_overrides.split(","))):
            workspace, _, limits = entry.partition("=")
            if limits.partition("/")[0].strip():
                found[workspace.strip()] = self.retention_for(workspace.strip())[0]
        return found

    def retention_for(self, workspace_id: str) -> tuple[int, int]:
        """(days, max lines) for one workspace."""
        days, lines = self.retention_days, self.max_lines_per_workspace
        for entry in filter(None, (e.strip() for e in self.retention_overrides.split(","))):
            workspace, _, limits = entry.partition("=")
            if workspace.strip() != workspace_id:
                continue
            day_part, _, line_part = limits.partition("/")
            days = int(day_part) if day_part.strip() else days
            lines = int(line_part) if line_part.strip() else lines
        return days, lines
