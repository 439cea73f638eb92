"""The sync composition root: the only place that reads settings and builds clients."""

from __future__ import annotations

from litestar import Litestar

from contracts.topics import (
    CANONICAL_RECORDS,
    EXTENSION_LOGS,
    INSTALLATION_SNAPSHOTS,
    OBSERVED_RECORDS,
    STREAM_STATUS,
)
from services.base.http import build_http_app, run_service
from services.base.infrastructure import Infrastructure
from services.base.kafka import declare_publisher, subscribe
from services.base.settings import InfraSettings
from services.base.snapshots import SnapshotView
from services.sync.settings import PREFIX, SyncSettings
from services.sync.subscribers import snapshot_handler


def create_app(settings: SyncSettings, infra_settings: InfraSettings) -> Litestar:
    """Wire the snapshot view (this replica's partitions) and the stream scheduler."""
    infra = Infrastructure.create(infra_settings, "sync")
    view = SnapshotView()
    subscribe(infra, INSTALLATION_SNAPSHOTS, settings.group_id, snapshot_handler(view))
    for topic in (CANONICAL_RECORDS, OBSERVED_RECORDS, STREAM_STATUS, EXTENSION_LOGS):
        declare_publisher(infra.broker, topic)
    return build_http_app(service="sync", infra=infra, route_handlers=[])


def main() -> None:
    """`python -m services.sync`."""
    run_service("sync", SyncSettings, PREFIX, create_app)
