"""Answers of the logs API that the console reads: log and audit pages, health, alerts."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from contracts.audit import AuditEvent
from contracts.logs import ExtensionLogLine
from contracts.streams import StreamStatus


class WebhookTotals(msgspec.Struct, frozen=True, kw_only=True):
    """Sums of an installation's webhook windows since a time."""

    installation_id: str
    deliveries: int = 0
    status_2xx: int = 0
    status_4xx: int = 0
    status_5xx: int = 0
    last_delivery_at: float | None = None
    last_success_at: float | None = None
    last_failure_reason: str | None = None


class LogPage(msgspec.Struct, frozen=True, kw_only=True):
    """Lines newest first; pass `next_cursor` as `cursor` for the next page (None: the end)."""

    items: list[ExtensionLogLine]
    next_cursor: str | None = None


class AuditPage(msgspec.Struct, frozen=True, kw_only=True):
    """Audit events newest first, keyset-paginated like log lines."""

    items: list[AuditEvent]
    next_cursor: str | None = None


class WebhookHealth(msgspec.Struct, frozen=True, kw_only=True):
    """Webhook answers of the last hour and the last day."""

    last_hour: WebhookTotals
    last_day: WebhookTotals


class InstallationHealth(msgspec.Struct, frozen=True, kw_only=True):
    """The Connection tab: every stream's latest status plus webhook health."""

    installation_id: str
    streams: list[StreamStatus]
    webhook: WebhookHealth
    failing_streams: int = 0


class WorkspaceHealth(msgspec.Struct, frozen=True, kw_only=True):
    """The Installed list's recent activity: one entry per installation with any activity."""

    installations: list[InstallationHealth]


class Destination(msgspec.Struct, frozen=True, kw_only=True):
    """An alert destination; its signing secrets are never shown after creation/rotation."""

    id: str
    url: str
    description: str
    enabled: bool
    disabled_reason: str | None = None
    created_at: float
    secret_versions: int = 1


class DestinationWithSecret(msgspec.Struct, frozen=True, kw_only=True):
    """Answer of create and rotate: the only time the signing secret is shown."""

    destination: Destination
    secret: str


class ActivityPoint(msgspec.Struct, frozen=True, kw_only=True):
    """One bucket of one series: `deliveries` by status class (2xx/4xx/5xx) or `errors`
    (error log lines). `at` is the bucket's start (unix seconds)."""

    installation_id: str
    at: float
    kind: Literal["deliveries", "errors"]
    series: str
    count: int


class Activity(msgspec.Struct, frozen=True, kw_only=True):
    """Bucketed activity of the workspace (or one installation) from `since` to `until`."""

    since: float
    until: float
    bucket_s: int
    points: list[ActivityPoint]


class FieldDiff(msgspec.Struct, frozen=True, kw_only=True):
    """One field that differs on a shared key (`<missing>` when one side lacks it)."""

    idempotency_key: str
    canonical_type: str
    path: str
    active: Any
    candidate: Any


class TypeCounts(msgspec.Struct, frozen=True, kw_only=True):
    """Records per canonical type on each side."""

    canonical_type: str
    active: int
    candidate: int


class ObservationReport(msgspec.Struct, frozen=True, kw_only=True):
    """Served at `/v1/installations/{id}/observation-report` and shown by `backfill promote`."""

    installation_id: str
    active_version_id: str | None
    candidate_version_id: str
    since: float
    compared_active: int
    compared_candidate: int
    only_active: list[str]
    only_candidate: list[str]
    differences: list[FieldDiff]
    keys_with_differences: int
    identical: int
    counts: list[TypeCounts]
    candidate_errors: int
    candidate_denials: int
    candidate_problems: list[ExtensionLogLine]
    truncated: bool = False
