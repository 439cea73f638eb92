"""Jinja filters of the dashboard: times people read, and state badges."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from litestar.plugins.jinja import JinjaTemplateEngine


def when(timestamp: Any) -> str:
    """A UTC time a person reads: `2026-03-01 14:05:09 UTC`; an em dash when unknown."""
    if not timestamp:
        return "—"
    moment = dt.datetime.fromtimestamp(float(timestamp), tz=dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def ago(timestamp: Any) -> str:
    """`42 s ago`, `5 min ago`, `3 h ago`, `2 d ago` (or `in 5 min`); `never` when unknown."""
    if not timestamp:
        return "never"
    seconds = time.time() - float(timestamp)
    future, seconds = seconds < 0, abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if seconds >= size or unit == "s":
            amount = f"{int(seconds // size)} {unit}"
            return f"in {amount}" if future else f"{amount} ago"
    return "now"


def local_input(timestamp: Any) -> str:
    """A timestamp as a datetime-local input value (UTC)."""
    if not timestamp:
        return ""
    return dt.datetime.fromtimestamp(float(timestamp), tz=dt.UTC).strftime("%Y-%m-%dT%H:%M")


TONES = {
    "active": "ok",
    "connected": "ok",
    "accepted": "ok",
    "pending": "warn",
    "observation running": "info",
    "observation": "info",
    "draft": "muted",
    "disabled": "muted",
    "needs reauth": "bad",
    "needs_reauth": "bad",
    "uninstalled": "muted",
    "rejected": "bad",
    "failed": "bad",
    "error": "bad",
    "backing_off": "warn",
}


def tone(state: Any) -> str:
    """The badge colour of a state word."""
    return TONES.get(str(state), "muted")


def configure_environment(engine: JinjaTemplateEngine) -> None:
    engine.engine.filters.update(
        {"when": when, "ago": ago, "tone": tone, "local_input": local_input}
    )
