"""Watermark cursors for list APIs: sweep the provider's list, then move a watermark.

A stream's cursor is JSON with `since` (the watermark the current sweep started from), `top`
(the highest stamp seen in the sweep so far) and one *position* key saying where the next page
of the sweep starts (Stripe's `after` id, GitHub's `next` link, Shopify's `page_info`). The
watermark moves only when a sweep ends (`since` = `top`), so a crash mid-sweep re-reads pages
(their records dedupe on id + stamp) instead of skipping objects.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sdk.streams import Page


@dataclass(frozen=True)
class Sweep:
    """Where a stream stands: `since`, `top` and the position within the current sweep."""

    position_key: str
    since: Any = None
    top: Any = None
    position: Any = None

    @classmethod
    def parse(cls, cursor: str | None, position_key: str) -> Sweep:
        """The sweep a stored cursor describes (a fresh one for None)."""
        state = json.loads(cursor) if cursor else {}
        return cls(position_key, state.get("since"), state.get("top"), state.get(position_key))

    def page(self, records: list[dict[str, Any]], stamps: Iterable[Any], following: Any) -> Page:
        """The page of `records`; `following` is the next position, or None when the sweep ends.

        `stamps` are the page's objects' stamps (None and missing ones skipped); the watermark
        becomes the highest stamp of the sweep once it ends.
        """
        top = max([s for s in (self.top, *stamps) if s], default=None)
        if following:
            state = {self.position_key: following, "since": self.since, "top": top}
            return Page(records=records, next_cursor=json.dumps(state), has_more=True)
        return Page(records=records, next_cursor=json.dumps({"since": top or self.since}))
