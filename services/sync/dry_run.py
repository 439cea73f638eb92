"""`backfill dev`'s dry run: a draft's stream or job, once, on demand, with nothing committed.

The draft runs in `draft` mode for its dev session: every record it ingests is intercepted
(returned here and published as a would-write on the observed topic, labelled draft), its
log lines carry the session, no cursor is stored and no status changes. Only the session the
draft belongs to may run it (compared in constant time), as an admin of the workspace. The
installation's snapshot is the one this replica schedules from; an installation or a draft
this replica has not seen yet is a 409 the CLI retries.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from contracts.ids import new_id
from contracts.installations import InstallationSnapshot
from runtime.interface import Invocation, Invoker
from services.base.auth import Principal
from services.base.draft_access import reachable_draft
from services.base.errors import Conflict, NotFound, ServiceError
from services.sync.oauth import TokenSource
from services.sync.schemas import DryRun, DryRunPage, DryRunRecord, DryRunRequest

MAX_PAGES = 10


class DryRunner:
    """Runs a draft's stream or job for its developer."""

    def __init__(
        self,
        snapshots: Callable[[str], InstallationSnapshot | None],
        invoker: Invoker,
        tokens: TokenSource,
    ) -> None:
        self.snapshots = snapshots
        self.invoker = invoker
        self.tokens = tokens

    async def run(
        self, caller: Principal, installation_id: str, name: str, request: DryRunRequest
    ) -> DryRun:
        """Up to `pages` pages (a stream continues while it has more); nothing committed."""
        caller.require_admin()
        if not 1 <= request.pages <= MAX_PAGES:
            raise ServiceError(f"pages must be 1 to {MAX_PAGES}", field="pages")
        snapshot = self.snapshots(installation_id)
        if snapshot is None or snapshot.workspace_id != caller.workspace_id:
            # Unknown, another workspace's, or not read by this replica yet: the same answer.
            raise Conflict(
                "this sync replica holds no such installation (yet)", field="installation_id"
            )
        draft = reachable_draft(snapshot, request.session)
        if draft is None:
            raise Conflict(
                "this installation has no draft of that dev session (yet)", field="session"
            )
        manifest = draft.manifest
        kind: Literal["stream", "job"]
        if any(s.name == name for s in manifest.streams):
            kind = "stream"
        elif any(j.name == name for j in manifest.jobs):
            kind = "job"
        else:
            raise NotFound(f"the draft declares no stream or job {name!r}", field="stream")
        access = (
            await self.tokens.access_token(snapshot) if self.tokens.uses_oauth(snapshot) else None
        )
        pages: list[DryRunPage] = []
        cursor = request.cursor
        for _ in range(request.pages):
            result = await self.invoker.invoke(
                Invocation(
                    invocation_id=new_id("inv"),
                    installation=snapshot,
                    version=draft,
                    mode="draft",
                    kind=kind,
                    script_type="job",
                    entry=name,
                    cursor=cursor,
                    source_id=new_id("dry"),
                    session_id=request.session,
                    secrets_override={"access_token": access} if access else None,
                )
            )
            pages.append(
                DryRunPage(
                    cursor=cursor,
                    next_cursor=result.next_cursor,
                    has_more=result.has_more,
                    outcome=result.outcome,
                    error=result.error,
                    records=[
                        DryRunRecord(
                            canonical_type=e.canonical_type,
                            idempotency_key=e.idempotency_key,
                            payload=e.payload,
                        )
                        for e in result.intercepted
                    ],
                )
            )
            if result.outcome != "ok" or kind == "job" or not result.has_more:
                break
            cursor = result.next_cursor
        return DryRun(
            installation_id=installation_id,
            name=name,
            kind=kind,
            version_id=draft.version_id,
            pages=pages,
        )
