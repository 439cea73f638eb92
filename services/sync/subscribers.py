"""What sync consumes: installation snapshots, as a member of its consumer group.

Through the shared follower (`services.base.snapshots.Follower`): replicas split the
snapshot topic's partitions; the scheduler owns the installations of the partitions it is
assigned (`partitions_assigned`, `partition_live` once a partition is read to where it
stood, `partitions_revoked` before it moves on) and hears of every newer snapshot through
the view. An undecodable snapshot is parked on the dead-letter topic.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from aiokafka import AIOKafkaProducer

from services.base.snapshots import Follower, SnapshotView
from services.sync.scheduler import Scheduler


def follow_snapshots(
    bootstrap_servers: str,
    group_id: str,
    scheduler: Scheduler,
    view: SnapshotView,
    producer: Callable[[], AIOKafkaProducer],
    group_timeouts: Mapping[str, int],
) -> Follower:
    """The group follower feeding `scheduler` (started by the caller)."""
    view.listeners.append(scheduler.snapshot_changed)
    return Follower(
        bootstrap_servers,
        view,
        service="sync",
        group_id=group_id,
        owner=scheduler,
        producer=producer,
        group_timeouts=group_timeouts,
    )
