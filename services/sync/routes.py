"""HTTP in: the internal test-connection endpoint the registry calls before saving credentials.

The body carries plaintext credentials, so the caller must present the internal service
token and the body is never logged. The connector's code runs only through the runtime,
with the unsaved values as overrides: nothing here is stored.
"""

from __future__ import annotations

from typing import Any

from litestar import post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from runtime.invocations import new_invocation
from runtime.runtime import Runtime
from services.base.auth import require_internal_token
from services.sync.schemas import ConnectionTestRequest, ConnectionVerdict


@post(
    "/internal/test-connection",
    status_code=200,
    include_in_schema=False,
    guards=[require_internal_token],
)
async def test_connection(
    # concrete: Litestar validates injected values against the annotation
    runtime: NamedDependency[Runtime],
    data: JSONBody[ConnectionTestRequest],
) -> ConnectionVerdict:
    """Run the connector's test_connection with the given settings and secrets."""
    result = await runtime.invoke(
        new_invocation(
            data.installation,
            data.version,
            kind="test_connection",
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
