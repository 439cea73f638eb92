"""HTTP in: the audit trail (more log APIs join here)."""

from __future__ import annotations

from litestar import Controller, get
from litestar.params import Parameter

from contracts.audit import AuditEvent
from services.base.auth import Principal
from services.logs.store import AuditStore


class AuditController(Controller):
    """Who did what in the caller's workspace."""

    path = "/v1/audit"
    tags = ["audit"]

    @get("/")
    async def list_audit_events(
        self,
        principal: Principal,
        audit: AuditStore,
        limit: int = Parameter(default=100, ge=1, le=1000),
        action: str | None = None,
    ) -> list[AuditEvent]:
        """Newest first; filter by action (e.g. `SecretRotated`)."""
        return await audit.recent(principal.workspace_id, limit, action)
