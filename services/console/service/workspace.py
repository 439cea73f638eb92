"""Sign-in, Members and Audit."""

from __future__ import annotations

from typing import Any

from contracts.answers.logs import AuditPage
from contracts.answers.registry import Me, Member
from services.console.downstream import Downstream, Failure
from services.console.service.page import banners, data_or
from services.console.service.viewer import Viewer

AUDIT_FILTERS = ("action", "actor", "target", "since", "until", "cursor")


async def sign_in(downstream: Downstream, token: str) -> Viewer | Failure:
    """The member a token belongs to; the token is checked by the registry, never stored here."""
    token = token.strip()
    if not token:
        return Failure(service="registry", status=400, code="invalid", message="Enter a token.")
    reply = await downstream.call("registry", "GET", "/v1/me", token, answer=Me)
    if reply.failure is not None:
        if reply.failure.status == 401:
            return Failure(
                service="registry",
                status=401,
                code="unauthenticated",
                message="That token is not valid (revoked, or mistyped).",
            )
        return reply.failure
    me: Me = reply.data
    return Viewer(
        token=token,
        role=me.member.role,
        email=me.member.email,
        member_id=me.member.id,
        workspace=me.workspace.name,
    )


async def members(downstream: Downstream, viewer: Viewer) -> dict[str, Any]:
    reply = await downstream.call(
        "registry", "GET", "/v1/members", viewer.token, answer=list[Member]
    )
    rows = sorted(data_or(reply, []), key=lambda m: (m.role != "admin", m.email))
    return {"members": rows, "banners": banners(reply)}


async def audit(downstream: Downstream, viewer: Viewer, filters: dict[str, Any]) -> dict[str, Any]:
    """The audit trail (logs service) with actors shown by email (registry), concurrently."""
    params = {k: filters.get(k) for k in AUDIT_FILTERS}
    replies = await downstream.gather(
        viewer.token,
        audit=("logs", "GET", "/v1/audit", params, AuditPage),
        members=("registry", "GET", "/v1/members", None, list[Member]),
    )
    reply = replies["audit"]
    data = data_or(reply, AuditPage(items=[]))
    events, next_cursor = data.items, data.next_cursor
    people = {m.id: m.email for m in data_or(replies["members"], [])}
    return {
        "events": events,
        "people": people,
        "next_cursor": next_cursor,
        "filters": params,
        "audit_ok": reply.ok,
        "banners": banners(reply),
    }
