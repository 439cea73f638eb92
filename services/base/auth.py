"""Bearer-token authentication shared by every service's API: token → workspace, member, role.

The registry issues tokens and is the only writer of `token:*` keys; every service reads them.
Only the SHA-256 of a token is stored, so a Redis dump reveals no usable credential. A token
of one workspace resolves to that workspace only: tenant isolation starts here.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any, Literal

import msgspec
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.handlers import BaseRouteHandler
from redis.asyncio import Redis

from services.base.errors import Forbidden, Unauthenticated

Role = Literal["admin", "member"]
TOKEN_PREFIX = "bft_"


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    """Who is calling: resolved from the bearer token on every request."""

    workspace_id: str
    member_id: str
    role: Role
    token_id: str

    def require_admin(self) -> None:
        """Raise 403 unless the caller is a workspace admin."""
        if self.role != "admin":
            raise Forbidden("this action needs the admin role")


def new_token() -> str:
    """A fresh API token: 256 random bits, prefixed so secret scanners can find leaked ones."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """What is stored instead of the token."""
    return hashlib.sha256(token.encode()).hexdigest()


def token_key(digest: str) -> str:
    """Redis key of a token's principal record."""
    return f"token:{digest}"


async def resolve_token(redis: Redis, token: str) -> Principal | None:
    """The principal a token stands for, or None when it is unknown or revoked."""
    raw = await redis.get(token_key(token_digest(token)))
    return msgspec.json.decode(raw, type=Principal) if raw else None


def bearer_of(request: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The bearer token of a request; 401 when absent or malformed."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("missing bearer token (Authorization: Bearer <token>)")
    return token.strip()


async def provide_principal(
    request: ASGIConnection[Any, Any, Any, Any], infra: NamedDependency[Any]
) -> Principal:
    """Litestar dependency: the authenticated caller, or 401."""
    principal = await resolve_token(infra.redis, bearer_of(request))
    if principal is None:
        raise Unauthenticated("unknown or revoked token")
    return principal


def require_internal_token(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """Litestar guard of `/internal` routes: 401 unless the bearer is the internal service token.

    Compared in constant time; an empty configured token refuses every caller (fail closed).
    The app's `state.infra` (set by `build_http_app`) holds the configured token.
    """
    expected = connection.app.state.infra.settings.internal_token
    given = bearer_of(connection)
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Unauthenticated("this endpoint needs the internal service token")
