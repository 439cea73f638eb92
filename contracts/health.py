"""Webhook health windows: what ingress answered per installation, for health views and alerts."""

from __future__ import annotations

from contracts.base import Message


class WebhookHealthWindow(Message, frozen=True, kw_only=True):
    """Counts of the answers ingress gave one installation's webhook URL in one flush window.

    Published off the request path, once per flush interval and installation that received
    anything; summing windows gives any longer period. A replica publishes its own windows,
    so several ingress replicas each contribute theirs (never double-counted).
    """

    workspace_id: str
    installation_id: str
    replica: str
    window_start: float
    window_end: float
    deliveries: int
    status_2xx: int = 0
    status_4xx: int = 0
    status_5xx: int = 0
    last_delivery_at: float | None = None
    last_success_at: float | None = None
    last_failure_reason: str | None = None
