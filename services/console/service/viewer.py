"""Who is looking at the dashboard: the signed-in member, read from the encrypted session."""

from __future__ import annotations

from typing import Any

import msgspec


class Viewer(msgspec.Struct, frozen=True, kw_only=True):
    """The session's member. `token` stays server-side: it is never rendered into a page."""

    token: str
    role: str
    email: str
    member_id: str
    workspace: str

    @property
    def admin(self) -> bool:
        """Admin-only actions are shown to admins only (the APIs refuse members anyway)."""
        return self.role == "admin"

    def to_session(self) -> dict[str, Any]:
        return msgspec.to_builtins(self)  # type: ignore[no-any-return]

    @classmethod
    def from_session(cls, session: dict[str, Any] | None) -> Viewer | None:
        """The viewer of a session, or None when signed out (or the session is malformed)."""
        try:
            return msgspec.convert((session or {}).get("viewer"), cls)
        except msgspec.ValidationError:
            return None
