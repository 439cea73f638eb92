"""Kafka in: audit events and extension log lines into their stores."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from contracts.audit import AuditEvent
from contracts.logs import ExtensionLogLine
from services.logs.store import AuditStore, LogLineStore


def audit_handler(store: AuditStore) -> Callable[[AuditEvent], Awaitable[None]]:
    """Store each audit event; idempotent, so redelivery after a crash is harmless."""

    async def on_audit_event(event: AuditEvent) -> None:
        await store.add(event)

    return on_audit_event


def log_line_handler(store: LogLineStore) -> Callable[[ExtensionLogLine], Awaitable[None]]:
    """Store each log line; idempotent, so redelivery after a crash is harmless."""

    async def on_log_line(line: ExtensionLogLine) -> None:
        await store.add(line)

    return on_log_line
