"""A service-local view of installation snapshots, built from the compacted snapshot topic.

Keeps the highest revision per installation and ignores older ones, so redelivery,
republishing and out-of-order replays never move an installation backwards. Lookups are
in-process dictionary reads: no call to the registry on any hot path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from contracts.installations import InstallationSnapshot

Listener = Callable[[InstallationSnapshot, InstallationSnapshot | None], Awaitable[None]]


class SnapshotView:
    """Latest snapshot per installation, indexed by installation id and by webhook hook id."""

    def __init__(self) -> None:
        self.by_installation: dict[str, InstallationSnapshot] = {}
        self.by_hook: dict[str, str] = {}
        self.listeners: list[Listener] = []
        self.changed = asyncio.Condition()
        # Whether the view has read the topic up to where it stood at start (set by the
        # service's wiring); until then "not in the view" does not mean "does not exist".
        self.caught_up: Callable[[], bool] = lambda: True

    def get(self, installation_id: str) -> InstallationSnapshot | None:
        """The current snapshot, or None if never seen."""
        return self.by_installation.get(installation_id)

    def by_hook_id(self, hook_id: str) -> InstallationSnapshot | None:
        """The installation a per-installation webhook URL belongs to."""
        installation_id = self.by_hook.get(hook_id)
        return self.by_installation.get(installation_id) if installation_id else None

    async def apply(self, snapshot: InstallationSnapshot) -> bool:
        """Take a snapshot if it is newer than what we hold; return whether it was applied."""
        current = self.by_installation.get(snapshot.installation_id)
        if current is not None and current.revision >= snapshot.revision:
            return False
        if current is not None and current.hook_id and current.hook_id != snapshot.hook_id:
            self.by_hook.pop(current.hook_id, None)  # a rotated URL stops resolving at once
        self.by_installation[snapshot.installation_id] = snapshot
        if snapshot.hook_id:
            self.by_hook[snapshot.hook_id] = snapshot.installation_id
        for listener in self.listeners:
            await listener(snapshot, current)
        async with self.changed:
            self.changed.notify_all()
        return True
