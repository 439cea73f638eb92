"""The ClickHouse tables of the logs service; the same DDL runs on chDB and on a server.

Redelivery: every table is a ReplacingMergeTree whose sorting key ends with the message's own
identity (log id, event id, idempotency key...), so a message redelivered after a crash
between insert and offset commit is stored twice only until parts merge, and every read
returns it once: log lines drop the adjacent repeat while reading (cheap: no FINAL on the
hot table), the small tables read with `FINAL`. Partitions are per day, so FINAL never
merges across partitions (`do_not_merge_across_partitions_select_final`) and expiring a day
drops whole parts.

Log lines arrive as the topic's raw JSON (`JSONEachRow`): ClickHouse parses them, computes
`expires_at` from the workspace's retention (a column default, see `log_lines_ddl`) and
refuses a line without its identity or with a value outside the contract's enums (the
table's constraints), so the consumer can park that one line.
"""

from __future__ import annotations

from collections.abc import Mapping

# A line the contract would refuse is refused by the table (the insert fails, the consumer
# parks that line): its identity must be there, its enums must be the contract's.
LINE_CONSTRAINTS = (
    "line_identity CHECK log_id != '' AND workspace_id != '' AND installation_id != '' "
    "AND extension_key != '' AND toUnixTimestamp64Micro(at) > 0",
    "line_enums CHECK kind IN ('log', 'denial', 'error', 'would_write', 'platform') "
    "AND script_type IN ('hook', 'job', 'route', 'page_action') "
    "AND mode IN ('active', 'observe', 'draft')",
)

# Granules of 1,024 rows (ClickHouse's default is 8,192): a word the text index finds in few
# lines costs a read of a few small granules (docs/performance.md, logs round 4). ClickHouse
# fixes it when a table is created (it is not an ALTER-able setting): stores made before
# keep 8,192 and read the same rows.
LOG_LINES = """
CREATE TABLE IF NOT EXISTS log_lines (
    workspace_id LowCardinality(String),
    at DateTime64(6, 'UTC') CODEC(Delta, ZSTD(1)),
    log_id String,
    level Enum8('debug' = 0, 'info' = 1, 'warn' = 2, 'error' = 3),
    kind LowCardinality(String),
    message String CODEC(ZSTD(1)),
    installation_id LowCardinality(String),
    extension_key LowCardinality(String),
    version_id LowCardinality(String),
    mode LowCardinality(String),
    session_id String,
    invocation_id String,
    script_type LowCardinality(String),
    script_name LowCardinality(String),
    entity LowCardinality(String),
    event LowCardinality(String),
    route LowCardinality(String),
    job LowCardinality(String),
    attrs String CODEC(ZSTD(1)),
    expires_at DateTime('UTC'),
    INDEX idx_log_id log_id TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_invocation invocation_id TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_session session_id TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_extension extension_key TYPE set(64) GRANULARITY 1,
    INDEX idx_installation installation_id TYPE set(256) GRANULARITY 1,
    INDEX idx_kind kind TYPE set(8) GRANULARITY 1,
    INDEX idx_level level TYPE minmax GRANULARITY 1
)
ENGINE = ReplacingMergeTree
PARTITION BY toDate(at)
ORDER BY (workspace_id, at, log_id)
TTL expires_at
SETTINGS index_granularity = 1024, ttl_only_drop_parts = 0
"""

AUDIT_EVENTS = """
CREATE TABLE IF NOT EXISTS audit_events (
    workspace_id LowCardinality(String),
    at DateTime64(6, 'UTC'),
    event_id String,
    actor String,
    action LowCardinality(String),
    target String,
    details String
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (workspace_id, at, event_id)
"""

STREAM_STATUS = """
CREATE TABLE IF NOT EXISTS stream_status (
    workspace_id LowCardinality(String),
    installation_id String,
    stream String,
    at DateTime64(6, 'UTC'),
    body String
)
ENGINE = ReplacingMergeTree(at)
ORDER BY (workspace_id, installation_id, stream)
"""

WEBHOOK_HEALTH = """
CREATE TABLE IF NOT EXISTS webhook_health (
    workspace_id LowCardinality(String),
    installation_id String,
    replica String,
    window_start DateTime64(3, 'UTC'),
    window_end DateTime64(3, 'UTC'),
    deliveries UInt32,
    status_2xx UInt32,
    status_4xx UInt32,
    status_5xx UInt32,
    last_delivery_at Nullable(Float64),
    last_success_at Nullable(Float64),
    last_failure_reason String
)
ENGINE = ReplacingMergeTree
PARTITION BY toDate(window_start)
ORDER BY (workspace_id, installation_id, window_start, replica)
TTL toDateTime(window_start) + INTERVAL 30 DAY
"""

RECORDS = """
CREATE TABLE IF NOT EXISTS records (
    workspace_id LowCardinality(String),
    installation_id String,
    side Enum8('canonical' = 0, 'observed' = 1),
    version_id String,
    idempotency_key String,
    canonical_type LowCardinality(String),
    emitted_at DateTime64(6, 'UTC'),
    payload String CODEC(ZSTD(1))
)
ENGINE = ReplacingMergeTree
PARTITION BY toDate(emitted_at)
ORDER BY (workspace_id, installation_id, side, idempotency_key, version_id)
TTL toDateTime(emitted_at) + INTERVAL 14 DAY
"""

SECRET_READS = """
CREATE TABLE IF NOT EXISTS secret_reads (
    workspace_id LowCardinality(String),
    installation_id String,
    extension_key String,
    version_id String,
    mode LowCardinality(String),
    script_name String,
    secret_name String,
    first_read_at Float64,
    last_read_at Float64,
    reads UInt64
)
ENGINE = ReplacingMergeTree(last_read_at)
ORDER BY (workspace_id, installation_id, version_id, script_name, secret_name)
"""

# Free text: an inverted index of the message's words (ClickHouse's `text` index; the tokenizer
# is named `splitByNonAlpha` from 26.x, `default` before), a token bloom filter where the
# server has neither. `hasToken(lower(message), 'word')` (a whole word, what `q` means) is an
# exact lookup in it; `lower(message) LIKE '%part%'` (wildcards, phrases) scans its dictionary.
INDEXES = (
    "lower(message) TYPE text(tokenizer = splitByNonAlpha)",
    "lower(message) TYPE text(tokenizer = 'default')",
    "lower(message) TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 1",
)
TEXT_INDEX_SETTINGS = {"allow_experimental_full_text_index": 1}


def log_lines_ddl(default_days: int, days: Mapping[str, int]) -> list[tuple[str, ...]]:
    """Statements run after the tables exist, each a tuple of alternatives (first that works).

    Brings a store made by an earlier version up to date (the n-gram bloom filter replaced by
    the text index, constraints added) and sets `expires_at`'s default to the retention of
    each workspace: `LOGS_RETENTION_DAYS` or its override.
    """
    quoted = ", ".join("'" + w.replace("\\", "\\\\").replace("'", "\\'") + "'" for w in days)
    retention = (
        f"transform(workspace_id, [{quoted}], [{', '.join(str(int(d)) for d in days.values())}], "
        f"{int(default_days)})"
        if days
        else str(int(default_days))
    )
    return [
        ("ALTER TABLE log_lines DROP INDEX IF EXISTS idx_message",),
        tuple(f"ALTER TABLE log_lines ADD INDEX IF NOT EXISTS idx_words {i}" for i in INDEXES),
        *[(f"ALTER TABLE log_lines ADD CONSTRAINT IF NOT EXISTS {c}",) for c in LINE_CONSTRAINTS],
        (
            "ALTER TABLE log_lines MODIFY COLUMN expires_at DateTime('UTC') "
            f"DEFAULT toDateTime(at) + toIntervalDay({retention})",
        ),
    ]


TABLES = (LOG_LINES, AUDIT_EVENTS, STREAM_STATUS, WEBHOOK_HEALTH, RECORDS, SECRET_READS)
