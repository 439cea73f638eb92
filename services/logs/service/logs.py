"""Reading and ingesting log lines, the audit trail, health and secret reads."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Awaitable, Callable, Sequence

import msgspec

from contracts.audit import AuditEvent
from contracts.logs import ExtensionLogLine
from contracts.streams import StreamStatus
from contracts.topics import EXTENSION_LOGS
from services.base.snapshots import SnapshotView
from services.logs.errors import InstallationNotFound, InvalidFilter
from services.logs.schemas import (
    AuditPage,
    InstallationHealth,
    LogPage,
    SecretReadsView,
    WebhookHealth,
    WorkspaceHealth,
)
from services.logs.service.queries import Cursor, LogFilter
from services.logs.service.tail import TailHub, TailSubscription
from services.logs.store.audit import AuditFilter, AuditStore
from services.logs.store.health import HealthStore, WebhookTotals
from services.logs.store.lines import LogLineStore
from services.logs.store.secret_reads import SecretReadStore

LineObserver = Callable[[Sequence[ExtensionLogLine]], Awaitable[None]]
# What a line the alert rules look at says, as JSON strings (kind error/denial/platform or
# level error): only lines holding one of these are looked at for the rules.
_ALERTABLE = re.compile(rb'"(?:error|denial|platform)"')
_ALERT_KINDS = ("error", "denial", "platform")


class _Head(msgspec.Struct):
    """The fields that decide whether a line goes to the alert rules (decoded alone: the
    rest of the line is skipped, several times cheaper than the whole line)."""

    workspace_id: str = ""
    kind: str = ""
    level: str = ""


_HEAD = msgspec.json.Decoder(_Head)


async def _every_workspace(workspace_id: str) -> bool:
    return True


class LogsService:
    """What the routes and subscribers call; every read is scoped to one workspace."""

    def __init__(
        self,
        *,
        lines: LogLineStore,
        audit: AuditStore,
        health: HealthStore,
        secret_reads: SecretReadStore,
        tail: TailHub,
        installations: SnapshotView,
        default_window_s: float,
        tail_heartbeat_s: float = 15.0,
        feed_tail: bool = True,
    ) -> None:
        self.lines = lines
        self.audit = audit
        self.health = health
        self.secret_reads = secret_reads
        self.tail = tail
        self.installations = installations
        self.default_window_s = default_window_s
        self.tail_heartbeat_s = tail_heartbeat_s
        self.feed_tail = feed_tail
        self.line_observers: list[LineObserver] = []
        # Whether a workspace has rules the observers evaluate on lines (alerts: cached).
        self.observes_lines: Callable[[str], Awaitable[bool]] = _every_workspace

    def show_lines(self, raws: Sequence[bytes]) -> None:
        """Hand lines just read from the topic (JSON) to the live tails, before they are
        stored: a tail shows a line as soon as the consumer has it."""
        if self.feed_tail:
            self.tail.offer_raw(raws)

    async def store_lines(self, raws: Sequence[bytes]) -> None:
        """Store a batch as the topic carries it (one insert, parsed by ClickHouse), then hand
        the lines the alert rules look at to them. Returns only once the batch is stored: the
        consumer commits offsets after this. A refused line fails the whole call."""
        await self.lines.add_raw(raws)
        if self.line_observers:
            relevant = await self._alertable(raws)
            for observer in self.line_observers:
                await observer(relevant)

    async def _alertable(self, raws: Sequence[bytes]) -> list[ExtensionLogLine]:
        """The lines the alert rules could match, decoded, of workspaces that have line rules:
        a byte search, then three fields of what it found; the whole line only for the rest
        (most lines of most workspaces are never decoded)."""
        heads: list[tuple[str, bytes]] = []
        for raw in raws:
            if _ALERTABLE.search(raw):
                try:
                    head = _HEAD.decode(raw)
                except msgspec.DecodeError:
                    continue  # the storing path refused it already
                if head.kind in _ALERT_KINDS or head.level == "error":
                    heads.append((head.workspace_id, raw))
        observed = {w for w in {w for w, _ in heads} if await self.observes_lines(w)}
        lines = []
        for workspace_id, raw in heads:
            if workspace_id in observed:
                with contextlib.suppress(msgspec.DecodeError, msgspec.ValidationError):
                    lines.append(EXTENSION_LOGS.decode(raw))
        return lines

    def require_installation(self, workspace_id: str, installation_id: str) -> None:
        """404 unless the installation belongs to the caller's workspace (as every service
        answers): another workspace's id reads exactly like one that does not exist."""
        snapshot = self.installations.get(installation_id)
        if snapshot is None or snapshot.workspace_id != workspace_id:
            raise InstallationNotFound("no such installation", field="installation_id")

    async def query_lines(self, query: LogFilter, cursor: str | None, limit: int) -> LogPage:
        """Newest first; without `since`, only the default window (bounded scans)."""
        if query.since is not None and query.until is not None and query.since > query.until:
            raise InvalidFilter("since is after until", field="since")
        if query.since is None:
            end = query.until if query.until is not None else time.time()
            query = _with(query, since=end - self.default_window_s)
        position = Cursor.decode(cursor) if cursor else None
        items, after = await self.lines.page(query, position, limit)
        return LogPage(items=items, next_cursor=after.encode() if after else None)

    def open_tail(self, query: LogFilter) -> TailSubscription:
        """A live tail of lines matching `query` from now on (fed by the Kafka consumer)."""
        return self.tail.subscribe(query)

    def close_tail(self, subscription: TailSubscription) -> None:
        """The client left."""
        self.tail.unsubscribe(subscription)

    async def query_audit(self, query: AuditFilter, cursor: str | None, limit: int) -> AuditPage:
        """Newest first, keyset-paginated."""
        position = Cursor.decode(cursor) if cursor else None
        items, after = await self.audit.page(query, position, limit)
        return AuditPage(items=items, next_cursor=after.encode() if after else None)

    async def record_audit(self, events: Sequence[AuditEvent]) -> None:
        """Store audit events (the registry's and this service's own)."""
        await self.audit.add_many(events)

    async def installation_health(
        self, workspace_id: str, installation_id: str
    ) -> InstallationHealth:
        """Latest status of every stream plus webhook answers of the last hour and day."""
        self.require_installation(workspace_id, installation_id)
        found = await self._health(workspace_id, installation_id)
        return found.get(installation_id) or _health_of(installation_id, [], {}, {})

    async def workspace_health(self, workspace_id: str) -> WorkspaceHealth:
        """The same for every installation of the workspace that has any activity."""
        found = await self._health(workspace_id, None)
        return WorkspaceHealth(installations=[found[key] for key in sorted(found)])

    async def _health(
        self, workspace_id: str, installation_id: str | None
    ) -> dict[str, InstallationHealth]:
        now = time.time()
        statuses = await self.health.statuses(workspace_id, installation_id)
        hour = {
            t.installation_id: t
            for t in await self.health.webhook_totals(workspace_id, now - 3600, installation_id)
        }
        day = {
            t.installation_id: t
            for t in await self.health.webhook_totals(workspace_id, now - 86400, installation_id)
        }
        ids = {s.installation_id for s in statuses} | set(day)
        return {
            i: _health_of(i, [s for s in statuses if s.installation_id == i], hour, day)
            for i in ids
        }

    async def secret_reads_of(self, workspace_id: str, installation_id: str) -> SecretReadsView:
        """Reads newest first, and which versions read each secret name."""
        self.require_installation(workspace_id, installation_id)
        reads = await self.secret_reads.of_installation(workspace_id, installation_id)
        versions: dict[str, list[str]] = {}
        for read in sorted(reads, key=lambda r: r.first_read_at):
            seen = versions.setdefault(read.secret_name, [])
            if read.version_id not in seen:
                seen.append(read.version_id)
        return SecretReadsView(reads=reads, versions_by_secret=versions)


def _health_of(
    installation_id: str,
    streams: list[StreamStatus],
    hour: dict[str, WebhookTotals],
    day: dict[str, WebhookTotals],
) -> InstallationHealth:
    empty = WebhookTotals(installation_id=installation_id)
    failing = sum(1 for s in streams if s.state in ("error", "backing_off", "needs_reauth"))
    return InstallationHealth(
        installation_id=installation_id,
        streams=streams,
        webhook=WebhookHealth(
            last_hour=hour.get(installation_id, empty), last_day=day.get(installation_id, empty)
        ),
        failing_streams=failing,
    )


def _with(query: LogFilter, **changes: object) -> LogFilter:
    return msgspec.structs.replace(query, **changes)
