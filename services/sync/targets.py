"""What the scheduler runs: one stream or job of one version of one installation.

Every stream and job of the *active* version is a target; an observation version's streams
are targets of their own (mode `observe`, their own cursors, records to the observed topic
only). Drafts are never polled: they run only in their developer's session.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from contracts.installations import InstallationSnapshot, VersionRef

TargetKind = Literal["stream", "job"]
TargetMode = Literal["active", "observe"]


@dataclass(frozen=True)
class Target:
    """One schedulable unit; `slot` names its cursor, lease and status inside the installation."""

    installation_id: str
    workspace_id: str
    extension_key: str
    kind: TargetKind
    name: str
    mode: TargetMode
    version_id: str
    every_s: float
    canonical_type: str | None = None

    @property
    def slot(self) -> str:
        """`stream:customers`, `job:nightly`, or `stream:customers@ver_…` for an observation."""
        base = f"{self.kind}:{self.name}"
        return base if self.mode == "active" else f"{base}@{self.version_id}"

    @property
    def key(self) -> tuple[str, str]:
        """Unique across the replica: installation and slot."""
        return (self.installation_id, self.slot)


def slot_of(kind: str, name: str) -> str:
    """The active version's slot of a stream or job, as the routes name it."""
    return f"{kind}:{name}"


def _of_version(
    snapshot: InstallationSnapshot, version: VersionRef, mode: TargetMode
) -> list[Target]:
    manifest = version.manifest
    common: dict[str, Any] = {
        "installation_id": snapshot.installation_id,
        "workspace_id": snapshot.workspace_id,
        "extension_key": snapshot.extension_key,
        "mode": mode,
        "version_id": version.version_id,
    }
    found = [
        Target(
            kind="stream",
            name=s.name,
            every_s=float(s.every_seconds),
            canonical_type=s.canonical_type,
            **common,
        )  # type: ignore[arg-type]
        for s in manifest.streams
    ]
    if mode == "active":  # an observation version's jobs would act twice on the world
        found += [
            Target(kind="job", name=j.name, every_s=float(j.every_seconds), **common)  # type: ignore[arg-type]
            for j in manifest.jobs
        ]
    return found


def targets_of(snapshot: InstallationSnapshot) -> list[Target]:
    """Everything of `snapshot` that is scheduled now (empty unless it may be polled)."""
    if not pollable(snapshot):
        return []
    found = _of_version(snapshot, snapshot.active, "active") if snapshot.active else []
    if snapshot.observation is not None:
        found += _of_version(snapshot, snapshot.observation, "observe")
    return found


def declared_targets(snapshot: InstallationSnapshot) -> list[Target]:
    """The active version's streams and jobs whatever the state (for the status view)."""
    return _of_version(snapshot, snapshot.active, "active") if snapshot.active else []


def pollable(snapshot: InstallationSnapshot) -> bool:
    """Active, and its OAuth connection (if any) connected: never-connected ones have no
    token to poll with, and ones waiting for an admin to reconnect have a refused one."""
    if snapshot.state != "active" or snapshot.active is None:
        return False
    return snapshot.oauth is None or snapshot.oauth.status == "connected"
