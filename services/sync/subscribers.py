"""Kafka in: installation snapshots into this process' local view."""

from __future__ import annotations

from contracts.installations import InstallationSnapshot
from services.base.snapshots import SnapshotView


def snapshot_handler(view: SnapshotView):  # type: ignore[no-untyped-def]
    """Apply each snapshot to the view; older revisions are ignored, so redelivery is harmless."""

    async def on_snapshot(snapshot: InstallationSnapshot) -> None:
        await view.apply(snapshot)

    return on_snapshot
