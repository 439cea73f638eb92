"""The sync composition root: the only place that reads settings and builds clients."""

from __future__ import annotations

from litestar import Litestar
from litestar.di import Provide

from contracts.topics import (
    CANONICAL_RECORDS,
    EXTENSION_LOGS,
    INSTALLATION_SNAPSHOTS,
    OBSERVED_RECORDS,
    STREAM_STATUS,
)
from runtime.runtime import Runtime
from services.base.http import build_http_app, run_service
from services.base.infrastructure import Infrastructure
from services.base.settings import InfraSettings, load_keyring
from services.base.snapshots import SnapshotView
from services.sync.routes import test_connection
from services.sync.settings import PREFIX, SyncSettings
from services.sync.subscribers import snapshot_handler


def create_app(settings: SyncSettings, infra_settings: InfraSettings) -> Litestar:
    """Wire the snapshot view (this replica's partitions) and the stream scheduler."""
    infra = Infrastructure.create(infra_settings, "sync")
    view = SnapshotView()
    infra.subscribe(INSTALLATION_SNAPSHOTS, settings.group_id, snapshot_handler(view))
    for topic in (CANONICAL_RECORDS, OBSERVED_RECORDS, STREAM_STATUS, EXTENSION_LOGS):
        infra.publisher(topic)
    keyring = load_keyring(infra_settings)
    runtime = Runtime(
        redis=infra.redis,
        keyring=keyring,
        producer=lambda: infra.producer,
        time_limit_s=settings.invocation_time_limit_s,
        host_overrides=settings.parsed_host_overrides(),
    )
    return build_http_app(
        service="sync",
        infra=infra,
        route_handlers=[test_connection],
        dependencies={"runtime": Provide(lambda: runtime, sync_to_thread=False)},
        on_shutdown=[runtime.close],
    )


def main() -> None:
    """`python -m services.sync`."""
    run_service("sync", SyncSettings, PREFIX, create_app)
