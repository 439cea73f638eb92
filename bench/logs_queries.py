"""The query phase of `bench/logs.py`: every console filter, arms interleaved request by
request, each request timed from the client (HTTP) or in process (SQLite)."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import httpx

from bench.logs_data import console_filters, percentiles, sqlite_query


async def query_round(
    client: httpx.AsyncClient,
    bases: dict[str, str],
    db: sqlite3.Connection,
    repeat: int,
    first_ask: bool = False,
) -> dict[tuple[str, str], tuple[float, float, int]]:
    """Every filter, arms interleaved request by request: (arm, filter) → (p50, p99, rows).

    `first_ask`: every request to a service is a page no request asked before (an `until`
    a second ahead of now, a different one each time: the same lines), so no arm answers it
    from a cache; otherwise the same request is repeated, as a console refreshing does."""
    asked = iter(range(10**9))

    def distinct(params: dict[str, Any]) -> dict[str, Any]:
        return params | {"until": time.time() + 1 + next(asked) / 1e6} if first_ask else params

    samples: dict[tuple[str, str], list[float]] = {}
    rows: dict[tuple[str, str], int] = {}
    cursors = {}
    for arm, base in bases.items():  # page 2: each arm's own cursor
        first = (await client.get(f"{base}/v1/extensions/helpdesk/logs")).json()
        cursors[arm] = {"cursor": first["next_cursor"]}
    filters = [(name, {arm: params for arm in bases}) for name, params in console_filters()]
    for name, by_arm in [*filters, ("page 2 (cursor)", cursors)]:
        for n in range(repeat + 3):
            for arm, base in bases.items():
                started = time.perf_counter()
                url = f"{base}/v1/extensions/helpdesk/logs"
                response = await client.get(url, params=distinct(by_arm[arm]))
                elapsed = time.perf_counter() - started
                assert response.status_code == 200, response.text
                if n >= 3:
                    samples.setdefault((arm, name), []).append(elapsed)
                    rows[(arm, name)] = len(response.json()["items"])
            if name != "page 2 (cursor)":
                started = time.perf_counter()
                found = sqlite_query(db, "helpdesk", next(iter(by_arm.values())))
                if n >= 3:
                    samples.setdefault(("sqlite", name), []).append(time.perf_counter() - started)
                    rows[("sqlite", name)] = len(found)
    return {key: (*percentiles(values), rows[key]) for key, values in samples.items()}
