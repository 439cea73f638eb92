"""Pages, page actions and UI contributions: what `render(ctx)` and an action receive.

A page's entry exports `render(ctx)` returning a tree of `sdk.ui` components (or plain dicts
with a `type`), and its actions as `actions = {"name": fn}` or module-level functions named
after them: `fn(ctx, input)` gets the submitted fields, raises `ValidationError(field, msg)`
to refuse them, and returns a message (str), a new tree, or None. Only the platform decides
who may see a page or run an action (the manifest's `role`); `ctx.member` says who is asking.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sdk import http, secrets
from sdk.log import Log


@dataclass(frozen=True)
class Member:
    """The signed-in member a page renders for, or who runs an action."""

    id: str
    role: str  # "member" or "admin"
    email: str | None = None

    @property
    def admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class PageContext:
    """What `render(ctx)` and page actions receive (`slot` is set for UI contributions)."""

    installation_id: str
    extension_key: str
    settings: Mapping[str, Any]
    page: str
    member: Member
    mode: str = "active"
    slot: str = ""
    query: Mapping[str, str] = field(default_factory=dict)
    http: Any = http
    secrets: Any = secrets
    log: Any = Log
