"""HTTP in: the logs API (see docs/http-api.md, "logs"); handlers only translate."""

from services.logs.routes.activity import ActivityController
from services.logs.routes.alerts import AlertDestinationsController, AlertRulesController
from services.logs.routes.installations import InstallationsController, WorkspaceHealthController
from services.logs.routes.logs import AuditController, ExtensionLogsController

CONTROLLERS = [
    AuditController,
    ExtensionLogsController,
    InstallationsController,
    WorkspaceHealthController,
    AlertDestinationsController,
    AlertRulesController,
    ActivityController,
]
