"""HTTP in: the internal test-connection endpoint the registry calls before saving credentials.

The body carries plaintext credentials, so the caller must present the internal service
token and the body is never logged. The connector's code runs only through the runtime,
with the unsaved values as overrides: nothing here is stored.
"""

from __future__ import annotations

import hmac
from typing import Any

from litestar import Request, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from contracts.ids import new_id
from runtime.interface import Invocation
from runtime.runtime import Runtime
from services.base.auth import bearer_of
from services.base.errors import Unauthenticated
from services.base.infrastructure import Infrastructure
from services.sync.schemas import ConnectionTestRequest, ConnectionVerdict


def require_internal_token(request: Request[Any, Any, Any], infra: Infrastructure) -> None:
    """401 unless the bearer token is the configured internal service token."""
    expected = infra.settings.internal_token
    given = bearer_of(request)
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Unauthenticated("this endpoint needs the internal service token")


@post("/internal/test-connection", status_code=200, include_in_schema=False)
async def test_connection(
    request: Request[Any, Any, Any],
    infra: NamedDependency[Infrastructure],
    # concrete: Litestar validates injected values against the annotation
    runtime: NamedDependency[Runtime],
    data: JSONBody[ConnectionTestRequest],
) -> ConnectionVerdict:
    """Run the connector's test_connection with the given settings and secrets."""
    require_internal_token(request, infra)
    result = await runtime.invoke(
        Invocation(
            invocation_id=new_id("inv"),
            installation=data.installation,
            version=data.version,
            kind="test_connection",
            script_type="route",
            entry="test_connection",
            settings_override=data.settings,
            secrets_override=data.secrets,
        )
    )
    return verdict_of(
        result.outcome, result.response.body if result.response else None, result.error
    )


def verdict_of(outcome: str, body: Any, error: str | None) -> ConnectionVerdict:
    """The runtime's result as the admin should read it."""
    if outcome == "ok" and isinstance(body, dict):
        return ConnectionVerdict(ok=bool(body.get("ok")), message=str(body.get("message", "")))
    if outcome == "not_found":
        return ConnectionVerdict(ok=False, message="this connector cannot test its connection")
    return ConnectionVerdict(ok=False, message=error or f"test connection ended with {outcome}")
