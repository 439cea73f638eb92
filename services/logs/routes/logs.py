"""Log lines of an extension (list and live tail) and the audit trail."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import ServerSentEvent

from services.base.auth import Principal
from services.logs.routes.filters import FilterParams
from services.logs.routes.tail import tail_response
from services.logs.schemas import AuditPage, LogPage
from services.logs.service.logs import LogsService
from services.logs.store.audit import AuditFilter

Limit = Annotated[int, QueryParameter(ge=1, le=1000)]


class ExtensionLogsController(Controller):
    """What an extension's scripts logged, plus the platform's lines about them (denials,
    errors, would_write of observed versions); members and admins read."""

    path = "/v1/extensions/{extension_key:str}/logs"
    tags = ["logs"]

    @get("/")
    async def list_extension_logs(
        self,
        principal: NamedDependency[Principal],
        logs: NamedDependency[LogsService],
        filters: NamedDependency[FilterParams],
        extension_key: FromPath[str],
        limit: Limit = 100,
        cursor: FromQuery[str | None] = None,
        installation_id: FromQuery[str | None] = None,
    ) -> LogPage:
        """Newest first; pass `next_cursor` back as `cursor`; without `since`, the last week."""
        query = filters.scoped(principal, extension_key, installation_id)
        return await logs.query_lines(query, cursor, limit)

    @get("/stream")
    async def tail_extension_logs(
        self,
        principal: NamedDependency[Principal],
        logs: NamedDependency[LogsService],
        filters: NamedDependency[FilterParams],
        extension_key: FromPath[str],
        installation_id: FromQuery[str | None] = None,
    ) -> ServerSentEvent:
        """Live tail (SSE `line` events) with the same filters, from now on."""
        return tail_response(logs, filters.scoped(principal, extension_key, installation_id))


class AuditController(Controller):
    """Who did what in the caller's workspace."""

    path = "/v1/audit"
    tags = ["audit"]

    @get("/")
    async def list_audit_events(
        self,
        principal: NamedDependency[Principal],
        logs: NamedDependency[LogsService],
        limit: Limit = 100,
        action: FromQuery[str | None] = None,
        actor: FromQuery[str | None] = None,
        target: FromQuery[str | None] = None,
        since: FromQuery[float | None] = None,
        until: FromQuery[float | None] = None,
        cursor: FromQuery[str | None] = None,
    ) -> AuditPage:
        """Newest first, keyset-paginated; exact `action`, `actor`, `target`; time range."""
        query = AuditFilter(
            workspace_id=principal.workspace_id,
            action=action,
            actor=actor,
            target=target,
            since=since,
            until=until,
        )
        return await logs.query_audit(query, cursor, limit)
