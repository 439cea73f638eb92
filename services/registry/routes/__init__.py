"""HTTP in: translate requests into registry service calls. Handlers stay two lines."""

from services.registry.routes.api_keys import ApiKeyController
from services.registry.routes.connections import (
    ConnectionController,
    InternalOAuthController,
    OAuthCallbackController,
)
from services.registry.routes.extensions import CatalogController, ExtensionController
from services.registry.routes.installations import InstallationController
from services.registry.routes.workspace import WorkspaceController

ROUTES = [
    WorkspaceController,
    CatalogController,
    ExtensionController,
    InstallationController,
    ApiKeyController,
    ConnectionController,
    OAuthCallbackController,
    InternalOAuthController,
]

__all__ = ["ROUTES"]
