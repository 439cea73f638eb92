"""`ingest.canonical(...)`: write a record into Backfill's canonical model.

Only entity types the manifest declares writable (and the admin has not write-protected) are
accepted; anything else raises PermissionDenied. In observation and draft versions the call
is intercepted: it is recorded as would-be work and nothing reaches the canonical topic.
"""

from __future__ import annotations

from typing import Any

from sdk.context import current


def canonical(
    canonical_type: str,
    payload: dict[str, Any],
    *,
    stream: str | None = None,
    idempotency_key: str,
) -> dict[str, Any]:
    """Ingest one record; the platform keeps exactly one record per `idempotency_key`.

    Providers re-deliver, so the key must derive from the provider's own ids (for example
    `stripe:event:{event_id}:{emission_index}`), never from a clock or a random value.
    """
    if not isinstance(payload, dict):
        raise TypeError("ingest.canonical payload must be a dict")
    if not idempotency_key:
        raise ValueError("ingest.canonical needs an idempotency_key derived from provider ids")
    return current().ingest(canonical_type, payload, stream, idempotency_key)
