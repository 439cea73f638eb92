"""Per installation: logs, tail, connection health, observation report, secret reads."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import ServerSentEvent

from services.base.auth import Principal
from services.logs.routes.filters import FilterParams
from services.logs.routes.tail import tail_response
from services.logs.schemas import InstallationHealth, LogPage, SecretReadsView, WorkspaceHealth
from services.logs.service.logs import LogsService
from services.logs.service.observation import ObservationReport, ObservationReports


class InstallationsController(Controller):
    """One installation of the caller's workspace; another workspace's answers 404."""

    path = "/v1/installations/{installation_id:str}"
    tags = ["logs", "health"]

    @get("/logs")
    async def list_installation_logs(
        self,
        principal: NamedDependency[Principal],
        logs: NamedDependency[LogsService],
        filters: NamedDependency[FilterParams],
        installation_id: FromPath[str],
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
        cursor: FromQuery[str | None] = None,
    ) -> LogPage:
        """The extension log query, for one installation (404 for another workspace's)."""
        logs.require_installation(principal.workspace_id, installation_id)
        query = filters.scoped(principal, None, installation_id)
        return await logs.query_lines(query, cursor, limit)

    @get("/logs/stream")
    async def tail_installation_logs(
        self,
        principal: NamedDependency[Principal],
        logs: NamedDependency[LogsService],
        filters: NamedDependency[FilterParams],
        installation_id: FromPath[str],
    ) -> ServerSentEvent:
        """Live tail for one installation (404 for another workspace's)."""
        logs.require_installation(principal.workspace_id, installation_id)
        return tail_response(logs, filters.scoped(principal, None, installation_id))

    @get("/health")
    async def installation_health(
        self,
        principal: NamedDependency[Principal],
        logs: NamedDependency[LogsService],
        installation_id: FromPath[str],
    ) -> InstallationHealth:
        """Latest status of every stream plus webhook answers of the last hour and day."""
        return await logs.installation_health(principal.workspace_id, installation_id)

    @get("/observation-report")
    async def observation_report(
        self,
        principal: NamedDependency[Principal],
        reports: NamedDependency[ObservationReports],
        installation_id: FromPath[str],
    ) -> ObservationReport:
        """Observation version vs active version on the same idempotency keys."""
        return await reports.report(principal.workspace_id, installation_id)

    @get("/secret-reads")
    async def secret_reads(
        self,
        principal: NamedDependency[Principal],
        logs: NamedDependency[LogsService],
        installation_id: FromPath[str],
    ) -> SecretReadsView:
        """Which script of which version read which secret name (never a value), and when."""
        return await logs.secret_reads_of(principal.workspace_id, installation_id)


class WorkspaceHealthController(Controller):
    """Recent activity of every installation of the workspace."""

    path = "/v1/health"
    tags = ["health"]

    @get("/")
    async def workspace_health(
        self, principal: NamedDependency[Principal], logs: NamedDependency[LogsService]
    ) -> WorkspaceHealth:
        """Stream statuses and webhook health per installation."""
        return await logs.workspace_health(principal.workspace_id)
