"""HTTP shapes of the logs API (msgspec); requests are `ThingCreate`, answers are `Thing`."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

# Answers another service reads are declared once, in contracts.answers (re-exported here).
from contracts.answers.logs import (  # noqa: F401
    Activity,
    ActivityPoint,
    AuditPage,
    Destination,
    DestinationWithSecret,
    InstallationHealth,
    LogPage,
    WebhookHealth,
    WorkspaceHealth,
)
from contracts.secret_reads import SecretRead


class SecretReadsView(msgspec.Struct, frozen=True, kw_only=True):
    """Reads newest first, and for each secret name the versions that read it."""

    reads: list[SecretRead]
    versions_by_secret: dict[str, list[str]]


RuleType = Literal[
    "extension_errors",
    "denials",
    "stream_failing",
    "stream_stuck",
    "webhook_5xx_rate",
    "test_connection_failed",
]


class DestinationCreate(msgspec.Struct, frozen=True, kw_only=True):
    """A new alert destination: the HTTPS URL that receives signed alerts."""

    url: str
    description: str = ""


class DestinationUpdate(msgspec.Struct, frozen=True, kw_only=True):
    """Change the URL, the description or re-enable a destination."""

    url: str | None = None
    description: str | None = None
    enabled: bool | None = None


class RuleCreate(msgspec.Struct, frozen=True, kw_only=True):
    """An alert rule; `params` by type (see docs/logs.md): extension_key, runs, intervals,
    threshold, min_deliveries, stream, installation_id."""

    type: RuleType
    destination_id: str
    window_s: float = msgspec.field(default=300.0)
    params: dict[str, Any] = {}


class Rule(msgspec.Struct, frozen=True, kw_only=True):
    """A stored rule: fires at most once per `window_s` to its destination."""

    id: str
    type: RuleType
    destination_id: str
    window_s: float
    params: dict[str, Any] = {}
    created_at: float


class Attempt(msgspec.Struct, frozen=True, kw_only=True):
    """One delivery attempt of an alert to a destination."""

    delivery_id: str
    alert_id: str
    attempt: int
    at: float
    status_code: int | None = None
    error: str | None = None
    ok: bool
    next_attempt_at: float | None = None
