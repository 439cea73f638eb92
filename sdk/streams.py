"""Streams: `fetch(ctx, cursor)` returns one `Page` of records and the cursor after it.

The sync service calls `fetch` on the stream's schedule with the cursor it stored last time
(None on the first run), ingests the page's records, stores `next_cursor` and calls again
while `has_more`. Each record is a provider object with an `id` and an `updated`/`created`
stamp (`updated_at`/`created_at` also work); the runtime derives its idempotency key from
both, so re-reading a page after a crash writes nothing twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sdk import http, secrets
from sdk.log import Log

STAMP_FIELDS = ("updated", "updated_at", "created", "created_at")


@dataclass
class Page:
    """One page of a stream: records, where to continue, and whether more is waiting now."""

    records: list[dict[str, Any]] = field(default_factory=list)
    next_cursor: str | None = None
    has_more: bool = False


@dataclass(frozen=True)
class Context:
    """What `fetch(ctx, cursor)` and `test_connection(ctx)` receive.

    `ctx.http`, `ctx.secrets` and `ctx.log` are the same capabilities as the module-level
    `sdk.http`, `sdk.secrets` and `sdk.Log`, bound to this invocation's installation.
    """

    installation_id: str
    extension_key: str
    settings: Mapping[str, Any]
    stream: str | None = None
    canonical_type: str | None = None
    http: Any = http
    secrets: Any = secrets
    log: Any = Log


@dataclass
class ConnectionResult:
    """What `test_connection(ctx)` returns: whether the credentials work, and why not."""

    ok: bool
    message: str = ""
