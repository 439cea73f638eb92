"""Registry decisions. Knows neither Litestar nor FastStream."""

from services.registry.service.workspaces import WorkspaceService, audit

__all__ = ["WorkspaceService", "audit"]
