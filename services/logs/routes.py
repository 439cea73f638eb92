"""HTTP in: the audit trail and extension logs of the caller's workspace."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter

from contracts.audit import AuditEvent
from contracts.logs import ExtensionLogLine, LogKind, LogLevel
from services.base.auth import Principal
from services.logs.store import AuditStore, LogLineStore, LogQuery


class AuditController(Controller):
    """Who did what in the caller's workspace."""

    path = "/v1/audit"
    tags = ["audit"]

    @get("/")
    async def list_audit_events(
        self,
        principal: NamedDependency[Principal],
        audit: NamedDependency[AuditStore],
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
        action: FromQuery[str | None] = None,
    ) -> list[AuditEvent]:
        """Newest first; filter by action (e.g. `SecretRotated`)."""
        return await audit.recent(principal.workspace_id, limit, action)


class ExtensionLogsController(Controller):
    """What an extension's scripts logged, plus the platform's lines about them (denials,
    errors, would_write of observed versions); members and admins read."""

    path = "/v1/extensions/{extension_key:str}/logs"
    tags = ["logs"]

    @get("/")
    async def list_extension_logs(
        self,
        principal: NamedDependency[Principal],
        logs: NamedDependency[LogLineStore],
        extension_key: FromPath[str],
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
        level: FromQuery[LogLevel | None] = None,
        kind: FromQuery[LogKind | None] = None,
        installation_id: FromQuery[str | None] = None,
        version_id: FromQuery[str | None] = None,
        since: FromQuery[float | None] = None,
    ) -> list[ExtensionLogLine]:
        """Newest first; `level` is a minimum, `since` a unix time."""
        query = LogQuery(
            level=level,
            kind=kind,
            installation_id=installation_id,
            version_id=version_id,
            since=since,
        )
        return await logs.recent(principal.workspace_id, extension_key, limit, query)
