"""Small time-series charts drawn on the server as inline SVG: no script, no external asset.

Input is the logs service's bucketed activity (`GET /v1/activity`): points of
`{installation_id, at, kind, series, count}`. Every chart carries `role="img"`, a title
and an `aria-label` saying what it shows in words (totals), so it reads without the picture.
Text is escaped; the markup is built here only, never from extension data unescaped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

COLOURS = {"2xx": "#1a7f37", "4xx": "#bf8700", "5xx": "#cf222e", "error": "#cf222e"}
NEUTRAL = "#0969da"


def buckets(since: float, until: float, bucket_s: int) -> list[float]:
    """Bucket starts from the one holding `since` to the one holding `until`."""
    first = since - since % bucket_s
    return [first + i * bucket_s for i in range(int((until - first) // bucket_s) + 1)]


def _grid(points: Iterable[dict[str, Any]], kind: str, series: Sequence[str]) -> dict:
    grid: dict[tuple[float, str], int] = {}
    for p in points:
        if p["kind"] == kind and p["series"] in series:
            key = (float(p["at"]), p["series"])
            grid[key] = grid.get(key, 0) + int(p["count"])
    return grid


def _hour(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%H:%M")


def stacked_bars(
    points: Iterable[dict[str, Any]],
    *,
    since: float,
    until: float,
    bucket_s: int,
    kind: str,
    series: Sequence[str],
    title: str,
    width: int = 560,
    height: int = 140,
) -> str:
    """Bars per bucket, stacked by series (e.g. 2xx/4xx/5xx), with a UTC time axis."""
    starts = buckets(since, until, bucket_s)
    grid = _grid(points, kind, series)
    totals = {s: sum(v for (_, name), v in grid.items() if name == s) for s in series}
    peak = max((sum(grid.get((t, s), 0) for s in series) for t in starts), default=0) or 1
    left, bottom, top = 34, 18, 6
    plot_w, plot_h = width - left - 4, height - bottom - top
    step = plot_w / len(starts)
    parts = [
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 4}" y2="{top + plot_h}" '
        'stroke="#d0d7de"/>',
        f'<text x="{left - 4}" y="{top + 8}" text-anchor="end" class="axis">{peak}</text>',
        f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end" class="axis">0</text>',
    ]
    for i, start in enumerate(starts):
        y = top + plot_h
        for name in series:
            count = grid.get((start, name), 0)
            if not count:
                continue
            h = plot_h * count / peak
            y -= h
            label = f"{_hour(start)} UTC: {count} {name}"
            parts.append(
                f'<rect x="{left + i * step + 1:.1f}" y="{y:.1f}" width="{max(step - 2, 1):.1f}" '
                f'height="{h:.1f}" fill="{COLOURS.get(name, NEUTRAL)}">'
                f"<title>{escape(label)}</title></rect>"
            )
        if i % max(1, len(starts) // 6) == 0 and left + i * step < width - 32:
            parts.append(
                f'<text x="{left + i * step:.1f}" y="{height - 4}" class="axis">'
                f"{_hour(start)}</text>"
            )
    summary = ", ".join(f"{totals[s]} {s}" for s in series)
    hours = (until - since) / 3600
    words = f"{title}: {summary} in the last {hours:g} hours (UTC)"
    legend = "".join(
        f'<span class="key"><i style="background:{COLOURS.get(s, NEUTRAL)}"></i>{escape(s)} '
        f"{totals[s]}</span>"
        for s in series
    )
    return (
        f'<figure class="chart"><figcaption>{escape(title)} <span class="legend">{legend}'
        f'</span></figcaption><svg role="img" aria-label="{escape(words)}" '
        f'viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="none">'
        f"<title>{escape(words)}</title>{''.join(parts)}</svg></figure>"
    )


def sparkline(
    points: Iterable[dict[str, Any]],
    *,
    since: float,
    until: float,
    bucket_s: int,
    label: str,
    width: int = 120,
    height: int = 26,
) -> str:
    """One row's activity: deliveries per bucket as a line, buckets with errors marked red."""
    starts = buckets(since, until, bucket_s)
    points = list(points)
    deliveries = _grid(points, "deliveries", ("2xx", "4xx", "5xx"))
    errors = _grid(points, "errors", ("error",))
    per = [sum(deliveries.get((t, s), 0) for s in ("2xx", "4xx", "5xx")) for t in starts]
    failed = [deliveries.get((t, "5xx"), 0) + errors.get((t, "error"), 0) for t in starts]
    peak = max(per, default=0) or 1
    step = (width - 2) / max(len(starts) - 1, 1)
    coords = " ".join(
        f"{1 + i * step:.1f},{height - 2 - (height - 4) * n / peak:.1f}" for i, n in enumerate(per)
    )
    marks = "".join(
        f'<circle cx="{1 + i * step:.1f}" cy="{height - 3}" r="2" fill="{COLOURS["error"]}"/>'
        for i, n in enumerate(failed)
        if n
    )
    words = f"{label}: {sum(per)} deliveries, {sum(failed)} failures or errors"
    return (
        f'<svg class="spark" role="img" aria-label="{escape(words)}" viewBox="0 0 {width} '
        f'{height}" width="{width}" height="{height}"><title>{escape(words)}</title>'
        f'<polyline fill="none" stroke="{NEUTRAL}" stroke-width="1.5" points="{coords}"/>'
        f"{marks}</svg>"
    )


def bars(items: Sequence[tuple[str, int]], *, title: str, width: int = 560) -> str:
    """Horizontal bars, one per named item (records of each stream's last run)."""
    if not items:
        return ""
    peak = max((n for _, n in items), default=0) or 1
    row, left = 20, 130
    height = row * len(items) + 4
    parts = []
    for i, (name, n) in enumerate(items):
        y = 2 + i * row
        w = (width - left - 50) * n / peak
        parts.append(
            f'<text x="{left - 6}" y="{y + 13}" text-anchor="end" class="axis">'
            f"{escape(name[:20])}</text>"
            f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="{row - 6}" fill="{NEUTRAL}">'
            f"<title>{escape(name)}: {n}</title></rect>"
            f'<text x="{left + w + 4:.1f}" y="{y + 13}" class="axis">{n}</text>'
        )
    words = f"{title}: " + ", ".join(f"{name} {n}" for name, n in items)
    return (
        f'<figure class="chart"><figcaption>{escape(title)}</figcaption><svg role="img" '
        f'aria-label="{escape(words)}" viewBox="0 0 {width} {height}" width="100%">'
        f"<title>{escape(words)}</title>{''.join(parts)}</svg></figure>"
    )
