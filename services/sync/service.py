"""Decisions behind the sync API: stream status, run now, reset, cursor history and restore.

Tenant isolation: an installation is visible only if its statuses carry the caller's
workspace; anything else is 404, never 403, so ids of other workspaces leak nothing.
Writes are admin-only and audited on `registry.audit.v1` (sync is a declared producer),
published (acks=all) before the answer. A reset or restore fences off a run in flight:
that run cannot commit over the admin's cursor.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from contracts.audit import AuditEvent
from contracts.ids import new_id
from contracts.streams import StreamStatus
from services.base.auth import Principal
from services.sync.errors import CursorEntryNotFound, StreamNotFound
from services.sync.schemas import (
    CursorChanged,
    CursorEntry,
    CursorHistory,
    RunAccepted,
    StreamList,
)
from services.sync.store import SyncStore
from services.sync.targets import slot_of

Audit = Callable[[AuditEvent], Awaitable[None]]


class SyncService:
    """What the routes call; knows neither HTTP nor Kafka consumers."""

    def __init__(self, store: SyncStore, audit: Audit) -> None:
        self.store = store
        self.audit = audit

    async def _visible(self, caller: Principal, installation_id: str) -> dict[str, StreamStatus]:
        statuses = await self.store.statuses(installation_id)
        mine = {s: v for s, v in statuses.items() if v.workspace_id == caller.workspace_id}
        if not mine:
            raise StreamNotFound("no such installation with streams", field="installation_id")
        return mine

    async def _slot(self, caller: Principal, installation_id: str, stream: str) -> str:
        statuses = await self._visible(caller, installation_id)
        for kind in ("stream", "job"):
            if slot_of(kind, stream) in statuses:
                return slot_of(kind, stream)
        raise StreamNotFound(f"no stream or job {stream!r} on this installation", field="stream")

    async def list_streams(self, caller: Principal, installation_id: str) -> StreamList:
        """Every stream and job status (active first, then observation runs), by name."""
        statuses = await self._visible(caller, installation_id)
        ordered = sorted(statuses.values(), key=lambda s: (s.mode != "active", s.kind, s.stream))
        return StreamList(installation_id=installation_id, streams=ordered)

    async def run_stream(
        self, caller: Principal, installation_id: str, stream: str, full: bool
    ) -> RunAccepted:
        """Queue a run (after a reset when `full`); the owning replica starts it."""
        caller.require_admin()
        slot = await self._slot(caller, installation_id, stream)
        if full:
            await self._set_cursor(caller, installation_id, slot, None, "reset")
        at = await self.store.request_run(installation_id, slot, full)
        await self._audited(caller, "StreamRunRequested", installation_id, stream, full=full)
        return RunAccepted(
            installation_id=installation_id, stream=stream, requested_at=at, full=full
        )

    async def reset_stream(
        self, caller: Principal, installation_id: str, stream: str
    ) -> CursorChanged:
        """Drop the cursor: the next run reads the stream from its beginning."""
        caller.require_admin()
        slot = await self._slot(caller, installation_id, stream)
        entry = await self._set_cursor(caller, installation_id, slot, None, "reset")
        await self._audited(caller, "StreamCursorReset", installation_id, stream)
        return CursorChanged(
            installation_id=installation_id, stream=stream, cursor=None, entry=entry
        )

    async def cursor_history(
        self, caller: Principal, installation_id: str, stream: str
    ) -> CursorHistory:
        """Committed cursors, newest first, and the current one."""
        slot = await self._slot(caller, installation_id, stream)
        return CursorHistory(
            installation_id=installation_id,
            stream=stream,
            current=await self.store.cursor(installation_id, slot),
            entries=await self.store.history(installation_id, slot),
        )

    async def restore_cursor(
        self, caller: Principal, installation_id: str, stream: str, entry_id: str
    ) -> CursorChanged:
        """Set the cursor back to an earlier entry; re-read records dedupe on their keys."""
        caller.require_admin()
        slot = await self._slot(caller, installation_id, stream)
        history = await self.store.history(installation_id, slot)
        chosen = next((e for e in history if e.entry_id == entry_id), None)
        if chosen is None:
            raise CursorEntryNotFound("no such cursor history entry", field="entry_id")
        entry = await self._set_cursor(caller, installation_id, slot, chosen.cursor, "restore")
        await self._audited(
            caller, "StreamCursorRestored", installation_id, stream, entry_id=entry_id
        )
        return CursorChanged(
            installation_id=installation_id, stream=stream, cursor=chosen.cursor, entry=entry
        )

    async def _set_cursor(
        self,
        caller: Principal,
        installation_id: str,
        slot: str,
        cursor: str | None,
        action: str,
    ) -> CursorEntry:
        entry = CursorEntry(
            entry_id=new_id("cur"),
            action=action,  # type: ignore[arg-type]
            at=time.time(),
            cursor=cursor,
            actor=caller.member_id,
        )
        await self.store.set_cursor(installation_id, slot, cursor, entry)
        return entry

    async def _audited(
        self, caller: Principal, action: str, installation_id: str, stream: str, **details: object
    ) -> None:
        await self.audit(
            AuditEvent(
                event_id=new_id("aud"),
                workspace_id=caller.workspace_id,
                actor=caller.member_id,
                action=action,
                target=installation_id,
                at=time.time(),
                details={"stream": stream, **details},
            )
        )
