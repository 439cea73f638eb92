"""The HTTP shell every service shares: health, readiness, metrics, AsyncAPI, errors, serving."""

from __future__ import annotations

import errno
import socket
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from litestar import Litestar, Response, get
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController
from litestar.types import ControllerRouterHandler

from services.base.auth import provide_principal
from services.base.connections import raise_open_files_limit, uvicorn_limits
from services.base.errors import EXCEPTION_HANDLERS
from services.base.infrastructure import Infrastructure, bounded_step
from services.base.kafka import asyncapi_document
from services.base.openapi import document_errors
from services.base.settings import HttpLimits, SettingsError

VERSION = "0.1.0"


@get("/healthz", include_in_schema=False, sync_to_thread=False)
def healthz() -> dict[str, str]:
    """Alive: the process serves HTTP (says nothing about dependencies)."""
    return {"status": "ok"}


@get("/readyz", include_in_schema=False)
async def readyz(infra: NamedDependency[Infrastructure]) -> Response[dict[str, Any]]:
    """Ready: Redis and Kafka reachable and every consumer assigned; 503 with the failing checks."""
    checks = await infra.ready()
    ready = all(checks.values())
    body: dict[str, Any] = {"status": "ready" if ready else "not_ready", "checks": checks}
    if infra.readiness.warnings:
        body["warnings"] = infra.readiness.warnings
    return Response(body, status_code=200 if ready else 503)


@get("/asyncapi.json", include_in_schema=False)
async def asyncapi(infra: NamedDependency[Infrastructure]) -> dict[str, Any]:
    """The AsyncAPI 3 document of the topics this service consumes and produces."""
    return asyncapi_document(infra.broker, f"backfill {infra.service}", VERSION)


class MetricsController(PrometheusController):
    """Prometheus exposition at /metrics."""

    path = "/metrics"
    include_in_schema = False


def build_http_app(
    *,
    service: str,
    infra: Infrastructure,
    route_handlers: Sequence[ControllerRouterHandler],
    dependencies: dict[str, Provide] | None = None,
    on_startup: Sequence[Callable[[], Any]] = (),
    on_shutdown: Sequence[Callable[[], Any]] = (),
    openapi: bool = True,
    middleware: Sequence[Any] = (),
    **litestar_options: Any,
) -> Litestar:
    """A Litestar app with the shared endpoints, error shape and an ordered lifespan.

    Startup: connect infrastructure (in the background), then `on_startup`. Shutdown runs
    after uvicorn has finished in-flight requests: `on_shutdown`, then infrastructure stop.
    """

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        if openapi:
            document_errors(app)  # every route is registered by now
        await infra.start()
        for hook in on_startup:
            await hook()
        try:
            yield
        finally:
            for hook in on_shutdown:
                await bounded_step(getattr(hook, "__qualname__", "shutdown hook"), hook())
            await infra.stop()

    prometheus = PrometheusConfig(
        app_name=service.replace("-", "_"),
        group_path=True,
        exclude=["/metrics", "/healthz", "/readyz"],
    )
    return Litestar(
        route_handlers=[healthz, readyz, asyncapi, MetricsController, *route_handlers],
        dependencies={
            "infra": Provide(lambda: infra, sync_to_thread=False),
            "principal": Provide(provide_principal),
            **(dependencies or {}),
        },
        lifespan=[lifespan],
        # prometheus: for a route answered outside Litestar; infra: for guards (and tests
        # that check what an app subscribes and publishes without starting it).
        state=State({"prometheus": prometheus, "infra": infra}),
        middleware=[prometheus.middleware, *middleware],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        logging_config=None,  # configure_logging owns the root logger (JSON lines)
        openapi_config=OpenAPIConfig(
            title=f"Backfill {service} API",
            version=VERSION,
            path="/schema",
            render_plugins=[SwaggerRenderPlugin()],
        )
        if openapi
        else None,
        **litestar_options,
    )


def check_port_free(host: str, port: int, setting: str) -> None:
    """Fail fast with the port and the setting that chose it, instead of a bind traceback."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise SettingsError(
                    f"port {port} is already in use; set {setting} to a free port"
                ) from None
            raise SettingsError(f"cannot listen on {host}:{port} ({setting}): {error}") from None


def serve(
    app: Litestar,
    *,
    host: str,
    port: int,
    port_setting: str,
    limits: HttpLimits | None = None,
) -> None:
    """Run under uvicorn; SIGTERM/SIGINT finish in-flight requests, then the lifespan shuts down.

    Connections are bounded (services/base/connections.py): concurrency, idle keep-alive,
    a deadline on every request head, and the open-files limit raised to its hard maximum.
    """
    check_port_free(host, port, port_setting)
    raise_open_files_limit()
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=10,
        loop="uvloop",
        **uvicorn_limits(limits or HttpLimits()),
    )
    uvicorn.Server(config).run()


def run_service(
    service: str,
    settings_cls: type[Any],
    prefix: str,
    create_app: Callable[[Any, Any], Litestar],
) -> None:
    """`python -m services.<name>`: read settings (fail fast), log JSON, serve until signalled."""
    import sys

    from services.base.logging import configure_logging
    from services.base.settings import InfraSettings, load

    try:
        infra_settings = load(InfraSettings)
        limits = load(HttpLimits, "HTTP_")
        settings = load(settings_cls, prefix)
        configure_logging(service, infra_settings.log_level)
        app = create_app(settings, infra_settings)
        serve(
            app,
            host=settings.host,
            port=settings.port,
            port_setting=f"{prefix}PORT",
            limits=limits,
        )
    except SettingsError as error:
        print(f"{service}: {error.message}", file=sys.stderr)
        raise SystemExit(2) from None
