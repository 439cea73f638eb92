"""`services.base.snapshots`: the one snapshot follower, its view's revision rule and readiness."""

from __future__ import annotations

import uuid

import msgspec
from aiokafka import AIOKafkaProducer

from contracts.installations import InstallationSnapshot
from contracts.topics import INSTALLATION_SNAPSHOTS
from services.base.kafka import group_timeouts
from services.base.snapshots import ALL, Follower, SnapshotView
from tests.harness import eventually

EXAMPLE = INSTALLATION_SNAPSHOTS.decode(INSTALLATION_SNAPSHOTS.example_path.read_bytes())


def snapshot(**changes: object) -> InstallationSnapshot:
    fresh = {"installation_id": f"ins_{uuid.uuid4().hex[:10]}", "hook_id": None, "revision": 1}
    return msgspec.structs.replace(EXAMPLE, **{**fresh, **changes})


async def announce(infra, *snapshots: InstallationSnapshot) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=infra.bootstrap_servers, acks="all")
    await producer.start()
    try:
        for s in snapshots:
            await (await INSTALLATION_SNAPSHOTS.send(producer, s))
    finally:
        await producer.stop()


class Owner:
    """A partition owner like sync's scheduler: notes what it was told, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, list[int]]] = []

    async def partitions_assigned(self, partitions: list[int]) -> None:
        self.events.append(("assigned", sorted(partitions)))

    async def partitions_revoked(self, partitions: list[int]) -> None:
        self.events.append(("revoked", sorted(partitions)))

    async def partition_live(self, partition: int) -> None:
        self.events.append(("live", [partition]))

    def live(self) -> set[int]:
        return {p for kind, ps in self.events if kind == "live" for p in ps}


async def test_following_everything_is_ready_once_read_and_never_rolls_an_installation_back(infra):
    first = snapshot()
    newer = msgspec.structs.replace(first, revision=2, state="disabled")
    await announce(infra, first, newer, first)  # revision 1 again, after 2: stale
    view = SnapshotView()
    changes: list[tuple[int, int | None]] = []

    async def on_change(s: InstallationSnapshot, previous: InstallationSnapshot | None) -> None:
        if s.installation_id == first.installation_id:
            changes.append((s.revision, previous.revision if previous else None))

    view.listeners.append(on_change)
    follower = Follower(infra.bootstrap_servers, view, service="test")
    assert not view.ready
    follower.start()
    try:
        await eventually(lambda: view.ready, what="the view ready")
        # Ready means read up to where the topic stood: no wait for what was published before.
        assert view.get(first.installation_id) == newer
        assert changes == [(1, None), (2, 1)]
        later = msgspec.structs.replace(newer, revision=3, state="active")
        await announce(infra, later)
        await eventually(lambda: view.get(first.installation_id) == later, what="revision 3")
        assert changes[-1] == (3, 2)
    finally:
        await follower.stop()


async def test_a_group_shares_the_partitions_and_a_leaving_member_hands_its_installations_over(
    infra,
):
    group = f"snapshots-{uuid.uuid4().hex[:8]}"
    mine = [snapshot() for _ in range(3 * INSTALLATION_SNAPSHOTS.partitions)]
    await announce(infra, *mine)
    ids = {s.installation_id for s in mine}
    views = [SnapshotView(), SnapshotView()]
    owners = [Owner(), Owner()]
    followers = [
        Follower(
            infra.bootstrap_servers,
            v,
            service="test",
            group_id=group,
            owner=o,
            group_timeouts=group_timeouts(infra.settings()),
        )
        for v, o in zip(views, owners, strict=True)
    ]
    for follower in followers:
        follower.start()
    try:

        def shared() -> bool:
            held = [ids & set(v.by_installation) for v in views]
            split = owners[0].live().isdisjoint(owners[1].live())
            return all(v.ready for v in views) and split and held[0] | held[1] == ids

        await eventually(shared, timeout=60, what="both members ready on their share")
        assert owners[0].live() | owners[1].live() == set(ALL)
        for view, owner in zip(views, owners, strict=True):
            assert all(
                view.partition_of[i] in owner.live() for i in ids & set(view.by_installation)
            )
        await followers[1].stop()
        assert ("revoked", sorted(owners[1].live())) in owners[1].events
        assert not ids & set(views[1].by_installation)  # a revoked partition leaves the view

        def took_over() -> bool:
            return views[0].ready and ids <= set(views[0].by_installation)

        await eventually(took_over, timeout=60, what="the remaining member holding everything")
    finally:
        for follower in followers:
            await follower.stop()
