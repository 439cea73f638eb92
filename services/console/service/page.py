"""What every page's context holds: the downstream replies' data plus banners for failures."""

from __future__ import annotations

from typing import Any

from services.console.downstream import Reply


def banners(*replies: Reply) -> list[str]:
    """One banner per unavailable service (deduplicated): the page renders what it can."""
    seen: list[str] = []
    for reply in replies:
        if reply.failure is not None and reply.failure.unavailable:
            if reply.failure.banner not in seen:
                seen.append(reply.failure.banner)
    return seen


def data_or(reply: Reply, default: Any) -> Any:
    return reply.data if reply.ok and reply.data is not None else default
