"""HTTP in: stream status, run now, reset, cursor history and restore; internal test-connection.

`/v1` routes take the workspace token (reads: members; writes: admins, audited). The
internal test-connection body carries plaintext credentials, so the caller must present the
internal service token and the body is never logged. The connector's code runs only through
the runtime, with the unsaved values as overrides: nothing here is stored.
"""

from __future__ import annotations

from typing import Any

from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from runtime.invocations import new_invocation
from runtime.runtime import Runtime
from services.base.auth import Principal, require_internal_token
from services.sync.schemas import (
    ConnectionTestRequest,
    ConnectionVerdict,
    CursorChanged,
    CursorHistory,
    RunAccepted,
    RunRequest,
    StreamList,
)
from services.sync.service import SyncService

BASE = "/v1/installations/{installation_id:str}/streams"


@get(BASE, summary="Per-stream (and job) status")
async def list_streams(
    installation_id: FromPath[str],
    principal: NamedDependency[Principal],
    sync: NamedDependency[SyncService],
) -> StreamList:
    """State, last run and success, records, cursor, errors, next run, webhook gap."""
    return await sync.list_streams(principal, installation_id)


@post(f"{BASE}/{{stream:str}}/run", status_code=202, summary="Run a stream now (admin)")
async def run_stream(
    installation_id: FromPath[str],
    stream: FromPath[str],
    principal: NamedDependency[Principal],
    sync: NamedDependency[SyncService],
    data: JSONBody[RunRequest | None] = None,
) -> RunAccepted:
    """Queue a run; `{"full": true}` resets the cursor first. Audited."""
    return await sync.run_stream(principal, installation_id, stream, bool(data and data.full))


@post(f"{BASE}/{{stream:str}}/reset", status_code=200, summary="Drop the cursor (admin)")
async def reset_stream(
    installation_id: FromPath[str],
    stream: FromPath[str],
    principal: NamedDependency[Principal],
    sync: NamedDependency[SyncService],
) -> CursorChanged:
    """The next run reads the stream from the beginning (a full resync). Audited."""
    return await sync.reset_stream(principal, installation_id, stream)


@get(f"{BASE}/{{stream:str}}/cursors", summary="Cursor history, newest first")
async def cursor_history(
    installation_id: FromPath[str],
    stream: FromPath[str],
    principal: NamedDependency[Principal],
    sync: NamedDependency[SyncService],
) -> CursorHistory:
    """Every committed cursor: run id, time, pages, records; resets and restores."""
    return await sync.cursor_history(principal, installation_id, stream)


@post(
    f"{BASE}/{{stream:str}}/cursors/{{entry_id:str}}/restore",
    status_code=200,
    summary="Set the cursor back to an earlier entry (admin)",
)
async def restore_cursor(
    installation_id: FromPath[str],
    stream: FromPath[str],
    entry_id: FromPath[str],
    principal: NamedDependency[Principal],
    sync: NamedDependency[SyncService],
) -> CursorChanged:
    """Re-read records dedupe on their idempotency keys. Audited."""
    return await sync.restore_cursor(principal, installation_id, stream, entry_id)


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
