"""The printed report of `bench/logs.py`: medians over rounds per arm."""

from __future__ import annotations

import os
import platform
import statistics
from typing import Any

from bench.logs_data import console_filters


def median(values: list[float]) -> float:
    """The median, NaN for no values."""
    return statistics.median(values) if values else float("nan")


def report(
    args: Any,
    sources: dict[str, Any],
    ingests: dict[str, list[tuple[float, float]]],
    tables: dict[str, dict[tuple[str, str], list[tuple[float, float, int]]]],
    tails: dict[str, list[tuple[float, float, float, float]]],
    sqlite_rate: float,
) -> None:
    """Medians over rounds of every arm's figures."""
    arms = [*sources, "sqlite"]
    print(f"\nmedians over {args.rounds} rounds, {args.lines:,} lines")
    for arm in sources:
        rates = [r for r, _ in ingests[arm]]
        each = ", ".join(f"{r:,.0f}" for r in rates)
        with_start = median([w for _, w in ingests[arm]])
        print(
            f"ingest {arm}: {median(rates):,.0f} lines/s (rounds {each}; "
            f"incl. start-up {with_start:,.0f})"
        )
    print(f"ingest sqlite (bare inserts, no Kafka): {sqlite_rate:,.0f} lines/s")
    for title, queries in tables.items():
        print(
            f"\nqueries, {title}, newest 100, {args.queries} runs per round (ms, p50 / p99, rows)"
        )
        print(f"{'filter':<24}" + "".join(f"{arm:>22}" for arm in arms))
        for name in [name for name, _ in console_filters()] + ["page 2 (cursor)"]:
            cells = []
            for arm in arms:
                got = queries.get((arm, name), [])
                p50 = median([g[0] for g in got])
                p99 = median([g[1] for g in got])
                rows = got[-1][2] if got else 0
                cells.append(f"{p50:7.1f} / {p99:7.1f} ({rows:>3})" if got else f"{'—':>21}")
            print(f"{name:<24}" + "".join(f"{c:>22}" for c in cells))
    for arm in sources:
        sse50, sse99, bare50, bare99 = (median([v[i] for v in tails[arm]]) for i in range(4))
        print(
            f"tail {arm}: {args.subscribers} subscribers x {args.tail_lines} lines, publish -> SSE"
            f" p50 {sse50:.1f} ms, p99 {sse99:.1f} ms; publish -> bare consumer p50 {bare50:.1f}"
            f" ms, p99 {bare99:.1f} ms"
        )
    load = os.getloadavg()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cpus, {platform.platform()}, "
        f"load average at the end {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f}"
    )
