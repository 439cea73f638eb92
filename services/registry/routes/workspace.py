"""HTTP in: the caller's workspace, members and tokens."""

from __future__ import annotations

from litestar import Controller, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from services.base.auth import Principal
from services.registry.schemas import (
    Me,
    Member,
    MemberCreate,
    TokenCreate,
    TokenInfo,
    TokenIssued,
    Workspace,
)
from services.registry.service import WorkspaceService


class WorkspaceController(Controller):
    """The caller's workspace, its members and API tokens."""

    path = "/v1"
    tags = ["workspace"]

    @get("/workspace")
    async def get_workspace(
        self, principal: NamedDependency[Principal], workspaces: NamedDependency[WorkspaceService]
    ) -> Workspace:
        """The workspace the bearer token belongs to."""
        return await workspaces.workspace_of(principal)

    @get("/me")
    async def whoami(
        self, principal: NamedDependency[Principal], workspaces: NamedDependency[WorkspaceService]
    ) -> Me:
        """The caller: workspace and member with role (how the console learns who signed in)."""
        return await workspaces.me(principal)

    @get("/members")
    async def list_members(
        self, principal: NamedDependency[Principal], workspaces: NamedDependency[WorkspaceService]
    ) -> list[Member]:
        """Every member with their role."""
        return await workspaces.store.members(principal.workspace_id)

    @post("/members")
    async def add_member(
        self,
        principal: NamedDependency[Principal],
        workspaces: NamedDependency[WorkspaceService],
        data: JSONBody[MemberCreate],
    ) -> Member:
        """Add a member (admin)."""
        return await workspaces.add_member(principal, data)

    @get("/tokens")
    async def list_tokens(
        self, principal: NamedDependency[Principal], workspaces: NamedDependency[WorkspaceService]
    ) -> list[TokenInfo]:
        """API tokens of the workspace (metadata only)."""
        return await workspaces.store.tokens(principal.workspace_id)

    @post("/tokens")
    async def issue_token(
        self,
        principal: NamedDependency[Principal],
        workspaces: NamedDependency[WorkspaceService],
        data: JSONBody[TokenCreate],
    ) -> TokenIssued:
        """Issue a token; the plaintext is returned once."""
        return await workspaces.issue_token(principal, data)

    @delete("/tokens/{token_id:str}", status_code=200)
    async def revoke_token(
        self,
        principal: NamedDependency[Principal],
        workspaces: NamedDependency[WorkspaceService],
        token_id: FromPath[str],
    ) -> TokenInfo:
        """Revoke a token at once (your own; admins: any). Its metadata stays, marked revoked."""
        return await workspaces.revoke_token(principal, token_id)
