"""Newest-first pages of log lines kept in memory while the store does not change.

A hit answers exactly what a read of the store would: an entry is used only while no write
to `log_lines` started or ended since it was read (`LogLineStore` calls `writing` around
every insert and delete; an entry stores the write generation it was read at, and a read
that overlapped a write, or ran while one was in flight, is not stored). An entry holds the
page's rows plus the one after them, read over a window from `since`; a later ask with the
same filter, cursor and limit and a `since` no older than that is the same rows filtered by
the new `since` (rows are newest first, so what the newer `since` drops is a tail, and
everything after that tail is older still). Only for a store this process alone writes
(the embedded one): with a server, other replicas insert lines this process never hears
of, so `LogLineStore` keeps no cache. Entries also expire after `max_age_s`, which bounds
what merges change behind its back (rows past their TTL disappearing).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from typing import Any

Rows = list[tuple[Any, ...]]


class PageCache:
    """An LRU of pages keyed by (filter without `since`, cursor, limit); first column of a
    row is its time in µs."""

    def __init__(self, max_entries: int = 256, max_age_s: float = 30.0) -> None:
        self.max_entries = max_entries
        self.max_age_s = max_age_s
        self.generation = 0
        self._writes = 0
        self._entries: OrderedDict[Hashable, tuple[int, float, int | None, Rows]] = OrderedDict()

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Around a write: every entry read before it ends is stale (bumped at start and end,
        so a read that overlapped the write is never stored either)."""
        self.generation += 1
        self._writes += 1
        self._entries.clear()
        try:
            yield
        finally:
            self.generation += 1
            self._writes -= 1
            self._entries.clear()

    def get(self, key: Hashable, since_us: int | None) -> Rows | None:
        """The rows of a page read from `since_us` (None: no lower bound), or None."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        generation, read_at, read_since_us, rows = entry
        stale = generation != self.generation or time.monotonic() - read_at > self.max_age_s
        older = read_since_us is not None and (since_us is None or since_us < read_since_us)
        if stale or older:  # an older `since` may hold rows the entry never read
            return None
        self._entries.move_to_end(key)
        return rows if since_us is None else [row for row in rows if row[0] >= since_us]

    def put(self, key: Hashable, since_us: int | None, generation: int, rows: Rows) -> None:
        """Keep `rows` read from `since_us`, if no write started or ended since `generation`
        and none is in flight."""
        if generation != self.generation or self._writes:
            return
        self._entries[key] = (generation, time.monotonic(), since_us, rows)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
