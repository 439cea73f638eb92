"""Log lines in ClickHouse: raw JSON inserts, filtered newest-first pages, retention by count.

A line redelivered by Kafka (same log id and time) is stored twice until the table's
ReplacingMergeTree merges the parts; reads drop the adjacent repeat, so it is returned once.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import msgspec

from contracts.log_search import parse
from contracts.logs import ExtensionLogLine
from services.logs.service.queries import LEVELS_AT_LEAST, Cursor, LogFilter
from services.logs.store.clickhouse import ClickHouse

SELECTED = (
    "toUnixTimestamp64Micro(at), log_id, level, kind, message, installation_id, extension_key, "
    "version_id, mode, session_id, invocation_id, script_type, script_name, entity, event, "
    "route, job, attrs, workspace_id"
)
# Filters that compare one column for equality with the same-named query value.
EXACT = (
    "extension_key",
    "installation_id",
    "script_type",
    "kind",
    "entity",
    "event",
    "route",
    "job",
    "version_id",
    "mode",
    "session_id",
)
# Newest-first reads look at the newest hour first, then widen by what that hour held.
FIRST_WINDOW_S = 3_600.0
# Outside a word, in RE2's syntax (what `contracts.log_search` calls a separator).
_SEPARATOR_RE2 = "[^0-9a-z\\x{80}-\\x{10FFFF}]"


def _line(row: Sequence[Any]) -> ExtensionLogLine:
    (
        at_us,
        log_id,
        level,
        kind,
        message,
        installation_id,
        extension_key,
        version_id,
        mode,
        session_id,
        invocation_id,
        script_type,
        script_name,
        entity,
        event,
        route,
        job,
        attrs,
        workspace_id,
    ) = row
    return ExtensionLogLine(
        log_id=log_id,
        at=at_us / 1e6,
        level=level,
        kind=kind,
        message=message,
        workspace_id=workspace_id,
        installation_id=installation_id,
        extension_key=extension_key,
        version_id=version_id,
        invocation_id=invocation_id,
        script_type=script_type,
        script_name=script_name,
        entity=entity or None,
        event=event or None,
        route=route or None,
        job=job or None,
        attrs=msgspec.json.decode(attrs) if attrs and attrs != "{}" else {},
        mode=mode,
        session_id=session_id or None,
    )


def _like(text: str, wildcards: bool = False) -> str:
    """A LIKE pattern matching `text` anywhere (`*` as any characters with `wildcards`)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.replace('*', '%') if wildcards else escaped}%"


def _re2(text: str) -> str:
    """`text` as a literal in an RE2 pattern (every ASCII non-alphanumeric escaped)."""
    return "".join(f"\\x{{{ord(c):02x}}}" if c.isascii() and not c.isalnum() else c for c in text)


def text_filter(q: str) -> tuple[list[str], dict[str, Any]]:
    """The WHERE clauses of free text `q` (see contracts/log_search.py), on `lower(message)`,
    the text index's expression: a whole word is `hasToken`, answered by the index's exact
    lookup; a phrase or wildcard is a `LIKE` (a scan of the index's dictionary), narrowed by
    `hasToken` on the words it holds whole and a `LIKE` on the words at its ends."""
    clauses: list[str] = []
    params: dict[str, Any] = {}

    def add(clause: str, value: str) -> None:
        name = f"q{len(params)}"
        clauses.append(clause.format(p=f"{{{name}:String}}"))
        params[name] = value

    for term in parse(q):
        for word in dict.fromkeys(term.whole_words):
            add("hasToken(lower(message), {p})", word)
        if term.kind == "word":
            if term.is_substring:
                add("lower(message) LIKE {p}", _like(term.text))
            elif term.whole_words != [term.text]:  # punctuation: as written, words whole
                before = f"(?:^|{_SEPARATOR_RE2})" if term.bounded_start else ""
                after = f"(?:$|{_SEPARATOR_RE2})" if term.bounded_end else ""
                add("match(lower(message), {p})", before + _re2(term.text) + after)
            continue
        pattern = _like(term.text, wildcards=term.kind == "wildcard")
        add("lower(message) LIKE {p}", pattern)
        for word in dict.fromkeys(term.edge_words):
            if len(word) >= 3 and _like(word) != pattern:
                add("lower(message) LIKE {p}", _like(word))
    return clauses, params


def where_clause(
    query: LogFilter, cursor: Cursor | None, before_us: int | None = None
) -> tuple[str, dict[str, Any]]:
    """The WHERE of a filtered read; every value is a server-side parameter (no injection)."""
    clauses = ["workspace_id = {workspace_id:String}"]
    params: dict[str, Any] = {"workspace_id": query.workspace_id}
    if before_us is not None:
        clauses.append("at < fromUnixTimestamp64Micro({before:Int64}, 'UTC')")
        params["before"] = before_us
    for name in EXACT:
        value = getattr(query, name)
        if value is not None:
            clauses.append(f"{name} = {{{name}:String}}")
            params[name] = value
    if query.level is not None:
        clauses.append("level IN {levels:Array(String)}")
        params["levels"] = list(LEVELS_AT_LEAST[query.level])
    if query.since is not None:
        clauses.append("at >= fromUnixTimestamp64Micro({since:Int64}, 'UTC')")
        params["since"] = int(query.since * 1e6)
    if query.until is not None:
        clauses.append("at <= fromUnixTimestamp64Micro({until:Int64}, 'UTC')")
        params["until"] = int(query.until * 1e6)
    if query.q:
        text_clauses, text_params = text_filter(query.q)
        clauses += text_clauses
        params |= text_params
    if cursor is not None:
        # Strictly after the cursor in (at desc, log_id desc): no repeat, no gap.
        clauses.append(
            "(at < fromUnixTimestamp64Micro({c_at:Int64}, 'UTC') OR "
            "(at = fromUnixTimestamp64Micro({c_at:Int64}, 'UTC') AND log_id < {c_id:String}))"
        )
        clauses.append("at <= fromUnixTimestamp64Micro({c_at:Int64}, 'UTC')")
        params["c_at"], params["c_id"] = cursor.at_us, cursor.log_id
    return " AND ".join(clauses), params


def next_window(top: float, low: float, found: int, wanted: int) -> float | None:
    """Where the next newest-first window starts (None: the rest of the range), given that
    `[low, top]` held `found` of the `wanted` lines: three times the span those lines
    suggest, at least double the span read so far (a few steps in all); nothing found yet:
    the rest. Three, not two: a density from a handful of lines is often low by half, and
    a third window costs a whole query (≈ 10 ms) where a wider second one costs little
    (docs/performance.md, logs round 6)."""
    if found == 0:
        return None
    span = top - low
    needed = span * (wanted - found) / found * 3
    return low - max(needed, span)


class LogLineStore:
    """Append and read one workspace's lines at a time."""

    def __init__(self, clickhouse: ClickHouse) -> None:
        self.clickhouse = clickhouse

    async def add_raw(self, lines: Sequence[bytes]) -> None:
        """One insert of lines as the topic carries them (JSON), parsed by ClickHouse; a line
        the table refuses (see schema.py) fails the insert and nothing of it is stored."""
        await self.clickhouse.insert_json("log_lines", lines)

    async def page(
        self, query: LogFilter, cursor: Cursor | None, limit: int
    ) -> tuple[list[ExtensionLogLine], Cursor | None]:
        """Up to `limit` lines newest first, and the cursor of the next page (None at the end).

        Reads the newest hour first, stopping as soon as the page is full: most pages touch
        one partition and few granules. (One read-in-order query over the whole range was
        measured 2-3x slower: it opens every part of the window; see docs/performance.md.)
        A page not full yet widens by the density seen so far (`next_window`): a sparse
        filter (a rare word: nothing in the first hour) reads the rest of the range in one
        more query instead of scanning 6 h, a day, then the rest, each with its own start-up.
        """
        found: list[tuple[Any, ...]] = []
        top = min(
            t
            for t in (query.until, cursor.at_us / 1e6 if cursor else None, time.time())
            if t is not None
        )
        floor = query.since if query.since is not None else 0.0  # widening stops somewhere
        before: int | None = None
        low: float | None = top - FIRST_WINDOW_S
        while True:
            if floor is not None and low is not None and low <= floor:
                low = floor
            window = msgspec.structs.replace(query, since=low)
            cursor = await self._fill(window, cursor, before, limit, found)
            if len(found) > limit or low is None or low == floor:
                break
            before = int(low * 1_000_000)
            low = next_window(top, low, len(found), limit + 1)
        lines = [_line(row) for row in found[:limit]]
        last = found[limit - 1] if len(found) > limit else None
        return lines, Cursor(int(last[0]), last[1]) if last else None

    async def _fill(
        self,
        query: LogFilter,
        cursor: Cursor | None,
        before: int | None,
        limit: int,
        found: list[tuple[Any, ...]],
    ) -> Cursor | None:
        """Append this window's rows after `cursor` to `found` until it holds `limit + 1`."""
        while True:
            where, params = where_clause(query, cursor, before)
            params["limit"] = limit + 1 - len(found)
            sql = (
                f"SELECT {SELECTED} FROM log_lines WHERE {where} "
                "ORDER BY at DESC, log_id DESC LIMIT {limit:UInt32}"
            )
            rows = await self.clickhouse.rows(sql, params)
            # A redelivered line is a second row with the same (time, id): adjacent in this
            # order, so dropping repeats here is exact and costs nothing (no FINAL).
            for row in rows:
                if not found or (found[-1][0], found[-1][1]) != (row[0], row[1]):
                    found.append(row)
            if len(rows) < params["limit"] or len(found) > limit:
                return cursor
            cursor = Cursor(int(found[-1][0]), found[-1][1])

    async def counts_by_workspace(self) -> dict[str, int]:
        """Stored lines per workspace (retention by count; read in order with the inserts)."""
        rows = await self.clickhouse.rows(
            "SELECT workspace_id, count() FROM log_lines GROUP BY workspace_id", with_writes=True
        )
        return {workspace: int(count) for workspace, count in rows}

    async def keep_newest(self, workspace_id: str, keep: int) -> None:
        """Delete a workspace's lines older than its `keep` newest (lightweight delete)."""
        rows = await self.clickhouse.rows(
            "SELECT toUnixTimestamp64Micro(at) FROM log_lines FINAL "
            "WHERE workspace_id = {w:String} ORDER BY at DESC LIMIT 1 OFFSET {keep:UInt64}",
            {"w": workspace_id, "keep": keep},
            with_writes=True,
        )
        if rows:
            await self.clickhouse.command(
                "DELETE FROM log_lines WHERE workspace_id = {w:String} "
                "AND at <= fromUnixTimestamp64Micro({cut:Int64}, 'UTC')",
                {"w": workspace_id, "cut": int(rows[0][0])},
            )
