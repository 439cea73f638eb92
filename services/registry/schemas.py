"""HTTP shapes of the registry API (`Thing`, `ThingCreate`, `ThingUpdate`)."""

from __future__ import annotations

from typing import Literal

import msgspec

from services.base.auth import Role


class Workspace(msgspec.Struct, frozen=True, kw_only=True):
    """A tenant: everything else belongs to exactly one workspace."""

    id: str
    slug: str
    name: str
    created_at: float


class Member(msgspec.Struct, frozen=True, kw_only=True):
    """A person (or automation) in a workspace, with a role."""

    id: str
    email: str
    role: Role
    created_at: float


class MemberCreate(msgspec.Struct, frozen=True, kw_only=True):
    """Add a member to the caller's workspace."""

    email: str = msgspec.field()
    role: Role = "member"


class TokenCreate(msgspec.Struct, frozen=True, kw_only=True):
    """Issue an API token for a member of the caller's workspace (default: the caller)."""

    name: str = "api"
    member_id: str | None = None


class TokenIssued(msgspec.Struct, frozen=True, kw_only=True):
    """A new token: the plaintext is in this response only and never again."""

    id: str
    name: str
    member_id: str
    role: Role
    token: str
    created_at: float


class TokenInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A token's metadata (never the token)."""

    id: str
    name: str
    member_id: str
    created_at: float
    status: Literal["active", "revoked"] = "active"
