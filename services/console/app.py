"""The console composition root: the only place that reads settings and builds clients.

The console holds no state of its own beyond the session: every page is built from the
other services' APIs, called with the signed-in member's token.
"""

from __future__ import annotations

import base64
from pathlib import Path

from litestar import Litestar, Router
from litestar.config.csrf import CSRFConfig
from litestar.di import Provide
from litestar.middleware.session.client_side import CookieBackendConfig
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from services.base.http import build_http_app, run_service
from services.base.infrastructure import Infrastructure
from services.base.settings import InfraSettings
from services.console.downstream import Downstream
from services.console.routes import PUBLIC, SIGNED_IN
from services.console.routes.responses import SignInRequired, provide_viewer, sign_in_redirect
from services.console.security import security_headers
from services.console.settings import PREFIX, ConsoleSettings
from services.console.templating import configure_environment

HERE = Path(__file__).parent


def create_app(settings: ConsoleSettings, infra_settings: InfraSettings) -> Litestar:
    """Wire the dashboard: templates, static files, session, CSRF, downstream client."""
    infra = Infrastructure.create(infra_settings, "console")
    downstream = Downstream(settings)
    key = settings.session_key()
    session = CookieBackendConfig(
        secret=key,
        key="backfill_session",
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        max_age=settings.session_max_age_s,
        exclude=["/static", "/healthz", "/readyz", "/metrics"],
    )
    csrf = CSRFConfig(
        secret=base64.b64encode(key).decode(),
        cookie_name="backfill_csrf",
        cookie_samesite="lax",
        cookie_secure=settings.secure_cookies,
        cookie_httponly=True,
        exclude=["/static"],
    )
    dashboard = Router(
        path="/",
        route_handlers=SIGNED_IN,
        dependencies={"viewer": Provide(provide_viewer, sync_to_thread=False)},
        exception_handlers={SignInRequired: sign_in_redirect},
        include_in_schema=False,
    )
    return build_http_app(
        service="console",
        infra=infra,
        route_handlers=[
            *PUBLIC,
            dashboard,
            create_static_files_router(path="/static", directories=[HERE / "static"]),
        ],
        dependencies={"downstream": Provide(lambda: downstream, sync_to_thread=False)},
        on_shutdown=[downstream.close],
        openapi=False,
        middleware=[security_headers, session.middleware],
        csrf_config=csrf,
        template_config=TemplateConfig(
            directory=HERE / "templates",
            engine=JinjaTemplateEngine,
            engine_callback=configure_environment,
        ),
    )


def main() -> None:
    """`python -m services.console`."""
    run_service("console", ConsoleSettings, PREFIX, create_app)
