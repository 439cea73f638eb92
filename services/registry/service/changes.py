"""One registry change: new installation revisions and audit events, committed with their outbox.

`commit` is the one way to change a workspace: it hands `decide` a fresh `Changeset`, lets it
read and decide, and commits what it collected in one MULTI (WATCHing the workspace clock), or
runs `decide` again on fresh reads when another change of the workspace committed meanwhile.
`decide` may therefore run several times: it reads Redis only, and any remote call (a
credential check through sync, an OAuth token exchange) happens before `commit`.
Every installation change goes through `Changeset.revise`, which bumps the snapshot revision by
exactly one; `build` writes the records and appends each snapshot and audit event to the
workspace outbox inside the MULTI, so state and announcements commit together.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import msgspec
from redis.asyncio.client import Pipeline

from contracts.audit import AuditEvent
from contracts.installations import InstallationSnapshot
from contracts.topics import AUDIT_EVENTS, INSTALLATION_SNAPSHOTS
from services.registry import outbox
from services.registry.outbox import OutboxRelay
from services.registry.service.workspaces import audit
from services.registry.store import Build, RegistryStore
from services.registry.stored import StoredInstallation

T = TypeVar("T")


class Changeset:
    """Collects what one transaction writes for one workspace."""

    def __init__(self, workspace_id: str, actor: str) -> None:
        self.workspace_id = workspace_id
        self.actor = actor
        self.records: dict[str, StoredInstallation] = {}
        self.base_revisions: dict[str, int] = {}
        self.audits: list[AuditEvent] = []
        self.writes: list[Callable[[Pipeline], None]] = []

    def revise(self, record: StoredInstallation, **changes: Any) -> StoredInstallation:
        """The record with `changes` applied to its snapshot at the next revision."""
        installation_id = record.snapshot.installation_id
        current = self.records.get(installation_id, record)
        base = self.base_revisions.setdefault(installation_id, record.snapshot.revision)
        snapshot = msgspec.structs.replace(
            current.snapshot,
            **changes,
            revision=base + 1,
            updated_at=time.time(),
        )
        return self.put(msgspec.structs.replace(current, snapshot=snapshot))

    def put(self, record: StoredInstallation) -> StoredInstallation:
        """Write `record` as is (its snapshot is published)."""
        self.records[record.snapshot.installation_id] = record
        return record

    def audit(self, action: str, target: str, **details: Any) -> None:
        """Record who did what; `details` never holds secret values."""
        self.audits.append(audit(self.workspace_id, self.actor, action, target, **details))

    def write(self, step: Callable[[Pipeline], None]) -> None:
        """Another write of the same transaction."""
        self.writes.append(step)

    def build(self, pipe: Pipeline) -> None:
        """Queue every write and outbox entry on `pipe` (inside MULTI)."""
        for record in self.records.values():
            RegistryStore.put_installation(pipe, record)
            outbox.append(pipe, self.workspace_id, INSTALLATION_SNAPSHOTS, record.snapshot)
        for step in self.writes:
            step(pipe)
        for event in self.audits:
            outbox.append(pipe, self.workspace_id, AUDIT_EVENTS, event)


def audit_secret_writes(
    changes: Changeset,
    before: StoredInstallation,
    after: StoredInstallation,
    written: Mapping[str, str],
) -> None:
    """One `SecretSet` (new name) or `SecretRotated` event per secret written, whichever request
    carried it (install, settings, the secret store); names and revisions, never values."""
    for name in sorted(written):
        action = "SecretRotated" if name in before.snapshot.secrets else "SecretSet"
        revision = after.snapshot.secrets[name].revision
        changes.audit(action, after.snapshot.installation_id, name=name, revision=revision)


def republish(pipe: Pipeline, workspace_id: str, snapshots: list[InstallationSnapshot]) -> None:
    """Queue current snapshots again (same revision): consumers that have them ignore them."""
    for snapshot in snapshots:
        outbox.append(pipe, workspace_id, INSTALLATION_SNAPSHOTS, snapshot)


async def commit(
    store: RegistryStore,
    relay: OutboxRelay,
    workspace_id: str,
    actor: str,
    decide: Callable[[Changeset], Awaitable[T]],
) -> T:
    """Run `decide` on a fresh `Changeset` and commit it atomically with its outbox entries.

    Retried (from fresh reads) while concurrent changes of the workspace win the race; a
    refusal raised by `decide` writes nothing. The relay is woken after the commit.
    """

    async def attempt() -> tuple[Build, T]:
        changes = Changeset(workspace_id, actor)
        result = await decide(changes)
        return changes.build, result

    result = await store.guarded(workspace_id, attempt)
    relay.notify()
    return result
