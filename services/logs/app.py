"""The logs composition root: the only place that reads settings and builds clients."""

from __future__ import annotations

from litestar import Litestar
from litestar.di import Provide

from contracts.topics import AUDIT_EVENTS, EXTENSION_LOGS
from services.base.http import build_http_app, run_service
from services.base.infrastructure import Infrastructure
from services.base.settings import InfraSettings
from services.logs.routes import AuditController, ExtensionLogsController
from services.logs.settings import PREFIX, LogsSettings
from services.logs.store import AuditStore, LogLineStore
from services.logs.subscribers import audit_handler, log_line_handler


def create_app(settings: LogsSettings, infra_settings: InfraSettings) -> Litestar:
    """Wire stores, subscribers and the query API."""
    infra = Infrastructure.create(infra_settings, "logs")
    audit = AuditStore(infra.redis, settings.audit_keep)
    lines = LogLineStore(infra.redis, settings.lines_keep)
    infra.subscribe(AUDIT_EVENTS, settings.group_id, audit_handler(audit))
    infra.subscribe(EXTENSION_LOGS, settings.group_id, log_line_handler(lines))
    return build_http_app(
        service="logs",
        infra=infra,
        route_handlers=[AuditController, ExtensionLogsController],
        dependencies={
            "audit": Provide(lambda: audit, sync_to_thread=False),
            "logs": Provide(lambda: lines, sync_to_thread=False),
        },
    )


def main() -> None:
    """`python -m services.logs`."""
    run_service("logs", LogsSettings, PREFIX, create_app)
