"""Audit events: who did what to which resource of a workspace, and when."""

from __future__ import annotations

from typing import Any

from contracts.base import Message


class AuditEvent(Message, frozen=True, kw_only=True):
    """A past-tense fact (`ExtensionInstalled`, `SecretRotated`) with its actor; never a secret."""

    event_id: str
    workspace_id: str
    actor: str
    action: str
    target: str
    at: float
    details: dict[str, Any] = {}
