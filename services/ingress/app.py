"""The ingress composition root: the only place that reads settings and builds clients."""

from __future__ import annotations

from litestar import Litestar

from contracts.topics import (
    CANONICAL_RECORDS,
    EXTENSION_LOGS,
    INSTALLATION_SNAPSHOTS,
    OBSERVED_RECORDS,
    WEBHOOK_DELIVERIES,
)
from services.base.http import build_http_app, run_service
from services.base.infrastructure import Infrastructure
from services.base.kafka import declare_publisher, subscribe
from services.base.settings import InfraSettings
from services.base.snapshots import SnapshotView
from services.ingress.settings import PREFIX, IngressSettings
from services.ingress.subscribers import snapshot_handler


def create_app(settings: IngressSettings, infra_settings: InfraSettings) -> Litestar:
    """Wire the snapshot view and the webhook pipeline."""
    infra = Infrastructure.create(infra_settings, "ingress")
    view = SnapshotView()
    subscribe(infra, INSTALLATION_SNAPSHOTS, settings.group_id, snapshot_handler(view))
    for topic in (WEBHOOK_DELIVERIES, CANONICAL_RECORDS, OBSERVED_RECORDS, EXTENSION_LOGS):
        declare_publisher(infra.broker, topic)
    return build_http_app(service="ingress", infra=infra, route_handlers=[])


def main() -> None:
    """`python -m services.ingress`."""
    run_service("ingress", IngressSettings, PREFIX, create_app)
