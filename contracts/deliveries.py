"""Raw webhook deliveries as received, before any extension code runs: the replay source."""

from __future__ import annotations

from typing import Literal

from contracts.base import Message

DeliveryStatus = Literal["accepted", "held", "rejected"]


class DeliveryReceived(Message, frozen=True, kw_only=True):
    """One delivery to a per-installation URL.

    Accepted and held deliveries carry the raw body and the headers that matter for
    verification; a rejected one carries only the reason and the body's SHA-256, so an
    attacker's payload is never stored. `secret_revision` names the signing secret revision
    that verified it, which replay re-checks against.
    """

    delivery_id: str
    workspace_id: str
    installation_id: str
    hook_id: str
    received_at: float
    status: DeliveryStatus
    reason: str | None = None
    headers: dict[str, str] = {}
    body: bytes | None = None
    body_sha256: str
    secret_revision: int | None = None
