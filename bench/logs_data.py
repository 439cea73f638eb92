"""Synthetic log lines, the filters the console offers, and the SQLite-with-indexes baseline.

Deterministic (seeded): the same lines and queries feed ClickHouse and SQLite in one run.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Iterator
from typing import Any

from contracts.log_search import parse, words
from contracts.logs import ExtensionLogLine

WORKSPACE = "ws_bench"
OTHER_WORKSPACE = "ws_other"
EXTENSIONS = ["helpdesk", "stripe", "shopify", "github", "crm"]
INSTALLATIONS = [f"ins_{n:02d}" for n in range(12)]
VERSIONS = ["ver_1", "ver_2", "ver_3"]
ENTITIES = ["ticket", "customer", "charge", "invoice", "order", "contact", "issue", "deal"]
EVENTS = [f"{e}.{verb}" for e in ENTITIES for verb in ("created", "updated", "deleted")]
ROUTES = ["/api/tickets", "/api/customers", "/api/orders", "/api/sync", "/api/health", "/api/x"]
JOBS = ["nightly-sync", "cleanup", "reindex", "digest"]
WORDS = (
    "fetched mapped stored skipped retried received wrote updated matched customer order "
    "invoice payment refund webhook cursor page batch provider response request timeout "
    "record field value status account"
).split()
RARE = "zebracorn"  # in about 1 line of 10,000
SPAN_S = 6 * 86_400.0  # the lines cover the last six days (inside the default window)


def synthetic_lines(count: int, seed: int = 7) -> Iterator[ExtensionLogLine]:
    """`count` lines, 90 % in the benchmarked workspace, oldest first."""
    rng = random.Random(seed)
    start = time.time() - SPAN_S
    for n in range(count):
        script_type = rng.choices(["hook", "job", "route", "page_action"], [50, 25, 20, 5])[0]
        kind = rng.choices(["log", "denial", "error", "would_write", "platform"], [85, 5, 5, 4, 1])[
            0
        ]
        level = {"error": "error", "denial": "warn"}.get(
            kind, rng.choices(["debug", "info", "warn", "error"], [10, 75, 12, 3])[0]
        )
        words = " ".join(rng.choices(WORDS, k=6))
        if rng.random() < 0.0001:
            words += f" {RARE}"
        version = rng.choice(VERSIONS)
        yield ExtensionLogLine(
            log_id=f"log_{seed}_{n:09d}",
            at=start + SPAN_S * n / count,
            level=level,  # type: ignore[arg-type]
            message=f"{words} id={rng.randrange(10**6)}",
            kind=kind,  # type: ignore[arg-type]
            workspace_id=WORKSPACE if rng.random() < 0.9 else OTHER_WORKSPACE,
            installation_id=rng.choice(INSTALLATIONS),
            extension_key=rng.choices(EXTENSIONS, [40, 25, 15, 10, 10])[0],
            version_id=version,
            invocation_id=f"inv_{n // 4}",
            script_type=script_type,  # type: ignore[arg-type]
            script_name=f"{script_type}s/main",
            entity=rng.choice(ENTITIES) if script_type == "hook" else None,
            event=rng.choice(EVENTS) if script_type == "hook" else None,
            route=rng.choice(ROUTES) if script_type == "route" else None,
            job=rng.choice(JOBS) if script_type == "job" else None,
            mode="observe" if version == "ver_3" else "active",
        )


def console_filters() -> list[tuple[str, dict[str, Any]]]:
    """(name, query parameters) of what the Logs tab offers, alone and combined."""
    now = time.time()
    return [
        ("newest 100", {}),
        ("level>=error", {"level": "error"}),
        ("kind=denial", {"kind": "denial"}),
        ("script_type=job", {"script_type": "job"}),
        ("entity", {"entity": "invoice"}),
        ("event", {"event": "charge.updated"}),
        ("route", {"route": "/api/orders"}),
        ("job", {"job": "reindex"}),
        ("installation", {"installation_id": "ins_03"}),
        ("version", {"version_id": "ver_2"}),
        ("mode=observe", {"mode": "observe"}),
        ("q common word", {"q": "refund"}),
        ("q rare term", {"q": RARE}),
        ("last hour", {"since": now - 3600}),
        ("level+installation+q", {"level": "warn", "installation_id": "ins_05", "q": "timeout"}),
        ("kind+version+24h", {"kind": "error", "version_id": "ver_3", "since": now - 86_400}),
    ]


SQLITE_SCHEMA = """
CREATE TABLE log_lines (
    workspace_id TEXT, at REAL, log_id TEXT, level INTEGER, kind TEXT, message TEXT,
    installation_id TEXT, extension_key TEXT, version_id TEXT, mode TEXT, session_id TEXT,
    invocation_id TEXT, script_type TEXT, script_name TEXT, entity TEXT, event TEXT,
    route TEXT, job TEXT, attrs TEXT, n INTEGER, PRIMARY KEY (workspace_id, at, log_id)
) WITHOUT ROWID;
CREATE INDEX by_extension ON log_lines (workspace_id, extension_key, at);
CREATE INDEX by_installation ON log_lines (workspace_id, installation_id, at);
CREATE INDEX by_kind ON log_lines (workspace_id, extension_key, kind, at);
CREATE INDEX by_level ON log_lines (workspace_id, extension_key, level, at);
CREATE INDEX by_n ON log_lines (n);
-- Whole words (the API's `q`): an inverted index of the messages, rowid = the line's `n`;
-- the `ascii` tokenizer splits and folds case as ClickHouse's text index does.
CREATE VIRTUAL TABLE words USING fts5(message, content='', tokenize='ascii');
CREATE VIRTUAL TABLE word_counts USING fts5vocab(words, 'row');
"""
# A word in fewer lines than this share is read from the FTS index (its hits, then sorted);
# a commoner one by scanning newest first (the first hits fill the page), as a cost-based
# planner with term statistics would choose.
RARE_SHARE = 0.01
# Outside a word (ASCII but not a letter or digit), for GLOB.
SEPARATOR = "[^a-z0-9\u0080-\U0010ffff]"
LEVEL = {"debug": 0, "info": 1, "warn": 2, "error": 3}


def sqlite_load(path: str, lines: list[ExtensionLogLine]) -> float:
    """Insert every line in batches of 5,000 (one transaction each); lines/s."""
    db = sqlite3.connect(path)
    db.executescript(SQLITE_SCHEMA)
    started = time.perf_counter()
    for offset in range(0, len(lines), 5_000):
        batch = lines[offset : offset + 5_000]
        rows = [
            (
                ln.workspace_id,
                ln.at,
                ln.log_id,
                LEVEL[ln.level],
                ln.kind,
                ln.message,
                ln.installation_id,
                ln.extension_key,
                ln.version_id,
                ln.mode,
                ln.session_id,
                ln.invocation_id,
                ln.script_type,
                ln.script_name,
                ln.entity,
                ln.event,
                ln.route,
                ln.job,
                "{}",
                offset + k,
            )
            for k, ln in enumerate(batch)
        ]
        with db:
            db.executemany(f"INSERT OR IGNORE INTO log_lines VALUES ({','.join('?' * 20)})", rows)
            db.executemany(
                "INSERT INTO words (rowid, message) VALUES (?, ?)",
                [(offset + k, ln.message) for k, ln in enumerate(batch)],
            )
    elapsed = time.perf_counter() - started
    db.execute("ANALYZE")
    db.close()
    return len(lines) / elapsed


def sqlite_query(db: sqlite3.Connection, extension_key: str, params: dict[str, Any]) -> list[Any]:
    """The same query as the API's, newest 100, in SQL that can use the indexes. Whole words
    of `q`: a rare word from the FTS5 index (a term with punctuation as the phrase of its
    words, looser than the API's), a common one by GLOB with separators around it over the
    newest lines; a wildcard or quoted term as a LIKE (a substring, as the API)."""
    clauses = ["workspace_id = ?", "extension_key = ?", "at >= ?"]
    values: list[Any] = [WORKSPACE, extension_key, params.get("since", time.time() - 7 * 86_400)]
    for name in (
        "kind",
        "script_type",
        "entity",
        "event",
        "route",
        "job",
        "installation_id",
        "version_id",
        "mode",
    ):
        if name in params:
            clauses.append(f"{name} = ?")
            values.append(params[name])
    if "level" in params:
        clauses.append("level >= ?")
        values.append(LEVEL[params["level"]])
    for term in parse(params.get("q")):
        if term.is_substring:
            clauses.append("message LIKE ?")
            values.append(f"%{term.text.replace('*', '%')}%")
            continue
        tokens = words(term.text)
        lines = db.execute("SELECT max(n) + 1 FROM log_lines").fetchone()[0]
        marks = ",".join("?" * len(tokens))
        hits = db.execute(f"SELECT max(doc) FROM word_counts WHERE term IN ({marks})", tokens)
        hits = hits.fetchone()[0]
        if (hits or 0) <= RARE_SHARE * (lines or 1):
            clauses.append("n IN (SELECT rowid FROM words WHERE words MATCH ?)")
            values.append('"' + " ".join(tokens) + '"')
        else:
            clauses.append("' ' || lower(message) || ' ' GLOB ?")
            glob = term.text.replace("[", "[[]").replace("*", "[*]").replace("?", "[?]")
            values.append(f"*{SEPARATOR}{glob}{SEPARATOR}*")
    sql = (
        f"SELECT * FROM log_lines WHERE {' AND '.join(clauses)} "
        "ORDER BY at DESC, log_id DESC LIMIT 100"
    )
    return db.execute(sql, values).fetchall()


def percentiles(samples: list[float]) -> tuple[float, float]:
    """(p50, p99) in milliseconds."""
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # noqa: E731
    return pick(0.50), pick(0.99)
