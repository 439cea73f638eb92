"""HTTP in: stream status, run now, reset, cursor history and restore; internal test-connection.

`/v1` routes take the workspace token (reads: members; writes: admins, audited). The
internal test-connection body carries plaintext credentials, so the caller must present the
internal service token and the body is never logged. The connector's code runs only through
the runtime, with the unsaved values as overrides: nothing here is stored.
"""

from __future__ import annotations

from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from services.base.auth import Principal, require_internal_token
from services.sync.connection_test import ConnectionTester
from services.sync.dry_run import DryRunner
from services.sync.schemas import (
    ConnectionTestRequest,
    ConnectionVerdict,
    CursorChanged,
    CursorHistory,
    DryRun,
    DryRunRequest,
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
    tester: NamedDependency[ConnectionTester],
    data: JSONBody[ConnectionTestRequest],
) -> ConnectionVerdict:
    """Run the connector's test_connection with the given settings and secrets."""
    return await tester.test(data)


@post(
    f"{BASE}/{{stream:str}}/dry-run",
    status_code=200,
    summary="Run a dev draft's stream or job once; nothing committed (admin)",
)
async def dry_run(
    installation_id: FromPath[str],
    stream: FromPath[str],
    principal: NamedDependency[Principal],
    dry_runner: NamedDependency[DryRunner],
    data: JSONBody[DryRunRequest],
) -> DryRun:
    """The draft of dev session `session` runs `stream` (or a job) from `cursor`; its
    records are intercepted and returned, no cursor moves (`backfill dev --run`)."""
    return await dry_runner.run(principal, installation_id, stream, data)
