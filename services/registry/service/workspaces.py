"""Registry decisions: workspaces, members and tokens. Knows neither Litestar nor FastStream."""

from __future__ import annotations

import re
import time
from typing import Any

import msgspec
from redis.asyncio.client import Pipeline

from contracts.audit import AuditEvent
from contracts.ids import new_id
from contracts.topics import AUDIT_EVENTS
from services.base.auth import Principal, new_token, token_digest
from services.base.errors import Conflict, NotFound, ServiceError
from services.registry import outbox
from services.registry.outbox import OutboxRelay
from services.registry.schemas import (
    Me,
    Member,
    MemberCreate,
    TokenCreate,
    TokenInfo,
    TokenIssued,
    Workspace,
)
from services.registry.store import RegistryStore

# An address a mail server could route: local part, @, a dotted domain (no spaces, one @).
EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+", re.ASCII)


def audit(workspace_id: str, actor: str, action: str, target: str, **details: Any) -> AuditEvent:
    """A past-tense audit fact; `details` must never hold secret values."""
    return AuditEvent(
        event_id=new_id("aud"),
        workspace_id=workspace_id,
        actor=actor,
        action=action,
        target=target,
        at=time.time(),
        details=details,
    )


def record_audit(
    pipe: Pipeline, workspace_id: str, actor: str, action: str, target: str, **details: Any
) -> None:
    """Queue an audit event in the outbox, inside the caller's transaction."""
    outbox.append(
        pipe, workspace_id, AUDIT_EVENTS, audit(workspace_id, actor, action, target, **details)
    )


class WorkspaceService:
    """Workspaces, members and API tokens."""

    def __init__(self, store: RegistryStore, relay: OutboxRelay) -> None:
        self.store = store
        self.relay = relay

    async def bootstrap_workspace(
        self, slug: str, admin_email: str, name: str = ""
    ) -> tuple[Workspace, Member, TokenIssued]:
        """Operator command: create a workspace with its first admin and that admin's token."""
        if await self.store.workspace_id_by_slug(slug):
            raise Conflict(f"workspace {slug!r} already exists", field="slug")
        now = time.time()
        workspace = Workspace(id=new_id("ws"), slug=slug, name=name or slug, created_at=now)
        admin = Member(id=new_id("mem"), email=admin_email, role="admin", created_at=now)
        if not await self.store.claim_slug(slug, workspace.id):
            raise Conflict(f"workspace {slug!r} already exists", field="slug")
        await self.relay.register(workspace.id)

        def build(pipe: Pipeline) -> None:
            self.store.put_workspace(pipe, workspace)
            self.store.put_member(pipe, workspace.id, admin)
            record_audit(
                pipe, workspace.id, "operator", "WorkspaceCreated", workspace.id, slug=slug
            )
            record_audit(pipe, workspace.id, "operator", "MemberAdded", admin.id, role="admin")

        try:
            await self.store.transaction(build)
        except BaseException:
            await self.store.release_slug(slug, workspace.id)
            raise
        principal = Principal(
            workspace_id=workspace.id, member_id=admin.id, role="admin", token_id=""
        )
        issued = await self.issue_token(principal, TokenCreate(name="bootstrap"))
        return workspace, admin, issued

    async def issue_token(self, caller: Principal, body: TokenCreate) -> TokenIssued:
        """Issue a token for the caller or (admins only) another member; shown once."""
        member_id = body.member_id or caller.member_id
        if member_id != caller.member_id:
            caller.require_admin()
        member = await self.store.member(caller.workspace_id, member_id)
        if member is None:
            raise NotFound(f"member {member_id!r} not found", field="member_id")
        token = new_token()
        info = TokenInfo(
            id=new_id("tok"), name=body.name, member_id=member.id, created_at=time.time()
        )
        principal = Principal(
            workspace_id=caller.workspace_id,
            member_id=member.id,
            role=member.role,
            token_id=info.id,
        )

        await self.store.put_principal(token_digest(token), principal)

        def build(pipe: Pipeline) -> None:
            self.store.put_token(pipe, token_digest(token), principal, info)
            record_audit(
                pipe,
                caller.workspace_id,
                caller.member_id or "operator",
                "TokenIssued",
                info.id,
                member_id=member.id,
                name=body.name,
            )

        await self.store.transaction(build)
        self.relay.notify()
        return TokenIssued(
            id=info.id,
            name=info.name,
            member_id=member.id,
            role=member.role,
            token=token,
            created_at=info.created_at,
        )

    async def revoke_token(self, caller: Principal, token_id: str) -> TokenInfo:
        """Revoke a token at once: the caller's own, or (admins only) any of the workspace."""
        found = await self.store.token(caller.workspace_id, token_id)
        if found is None:
            raise NotFound(f"token {token_id!r} not found", field="token_id")
        info, digest = found
        if info.member_id != caller.member_id:
            caller.require_admin()
        if info.status == "revoked":
            return info
        await self.store.drop_principal(digest)

        def build(pipe: Pipeline) -> None:
            self.store.revoke_token(pipe, caller.workspace_id, info, digest)
            record_audit(
                pipe,
                caller.workspace_id,
                caller.member_id,
                "TokenRevoked",
                info.id,
                member_id=info.member_id,
                name=info.name,
            )

        await self.store.transaction(build)
        self.relay.notify()
        return msgspec.structs.replace(info, status="revoked")

    async def add_member(self, caller: Principal, body: MemberCreate) -> Member:
        """Admins add members; an email is unique within a workspace."""
        caller.require_admin()
        if not EMAIL.fullmatch(body.email):
            raise ServiceError(
                f"{body.email!r} is not an email address (name@example.com)", field="email"
            )
        if any(m.email == body.email for m in await self.store.members(caller.workspace_id)):
            raise Conflict(f"{body.email} is already a member", field="email")
        member = Member(id=new_id("mem"), email=body.email, role=body.role, created_at=time.time())

        def build(pipe: Pipeline) -> None:
            self.store.put_member(pipe, caller.workspace_id, member)
            record_audit(
                pipe,
                caller.workspace_id,
                caller.member_id,
                "MemberAdded",
                member.id,
                role=member.role,
            )

        await self.store.transaction(build)
        self.relay.notify()
        return member

    async def me(self, caller: Principal) -> Me:
        """The caller's workspace and member record."""
        member = await self.store.member(caller.workspace_id, caller.member_id)
        if member is None:
            raise NotFound("member not found")
        return Me(workspace=await self.workspace_of(caller), member=member)

    async def workspace_of(self, caller: Principal) -> Workspace:
        """The caller's workspace."""
        workspace = await self.store.workspace(caller.workspace_id)
        if workspace is None:
            raise NotFound("workspace not found")
        return workspace
