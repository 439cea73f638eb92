"""Answers of the registry API that the console reads: the workspace's members."""

from __future__ import annotations

import msgspec

from contracts.manifest import MemberRole


class Member(msgspec.Struct, frozen=True, kw_only=True):
    """A person (or automation) in a workspace, with a role."""

    id: str
    email: str
    role: MemberRole
    created_at: float
