"""Kafka in: audit events into the audit store."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from contracts.audit import AuditEvent
from services.logs.store import AuditStore


def audit_handler(store: AuditStore) -> Callable[[AuditEvent], Awaitable[None]]:
    """Store each audit event; idempotent, so redelivery after a crash is harmless."""

    async def on_audit_event(event: AuditEvent) -> None:
        await store.add(event)

    return on_audit_event
