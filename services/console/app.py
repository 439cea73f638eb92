"""The console composition root: the only place that reads settings and builds clients."""

from __future__ import annotations

from litestar import Litestar, MediaType, get

from services.base.http import build_http_app, run_service
from services.base.infrastructure import Infrastructure
from services.base.settings import InfraSettings
from services.console.settings import PREFIX, ConsoleSettings


@get("/", media_type=MediaType.HTML, include_in_schema=False)
async def home() -> str:
    """Landing page (the dashboard arrives with the console issue)."""
    return "<!doctype html><title>Backfill extensions</title><h1>Backfill extensions</h1>"


def create_app(settings: ConsoleSettings, infra_settings: InfraSettings) -> Litestar:
    """Wire the dashboard."""
    infra = Infrastructure.create(infra_settings, "console")
    return build_http_app(service="console", infra=infra, route_handlers=[home], openapi=False)


def main() -> None:
    """`python -m services.console`."""
    run_service("console", ConsoleSettings, PREFIX, create_app)
