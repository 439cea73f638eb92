"""Event catalogs: which provider event types become which canonical records, and how.

A catalog maps an event type to a `CatalogEntry` whose `transform(event, object)` returns the
`Canonical` records the event stands for. Types a connector deliberately does not ingest go
in its known-ignored list, so the handler can tell "ignored on purpose" from "never heard
of". `handle_event` is the whole webhook flow: look up, transform, ingest each record under
`{provider}:event:{event_id}:{index}`, answer 202.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from sdk import ingest
from sdk.api import HttpResponse, api
from sdk.context import current


@dataclass(frozen=True)
class Canonical:
    """One record a transform produces: its canonical type, payload and optional stream."""

    canonical_type: str
    payload: dict[str, Any]
    stream: str | None = None


Transform = Callable[[dict[str, Any], dict[str, Any]], list[Canonical]]


@dataclass(frozen=True)
class CatalogEntry:
    """How one event type is ingested."""

    transform: Transform
    description: str = ""


EventCatalog = Mapping[str, CatalogEntry]


def one_record(
    canonical_type: str, transform: Callable[[dict[str, Any]], dict[str, Any]], stream: str
) -> CatalogEntry:
    """The common entry: the event's object, transformed, is one record of `stream`."""
    return CatalogEntry(
        transform=lambda event, obj: [Canonical(canonical_type, transform(obj), stream=stream)],
        description=f"one {canonical_type} record",
    )


def event_idempotency_key(provider: str, event_id: str, index: int) -> str:
    """`{provider}:event:{event_id}:{index}`: stable across the provider's re-deliveries."""
    return f"{provider}:event:{event_id}:{index}"


def handle_event(
    *,
    provider: str,
    catalog: EventCatalog,
    ignored: Collection[str],
    event_id: Any,
    event_type: Any,
    event: dict[str, Any],
    obj: dict[str, Any] | None = None,
) -> HttpResponse:
    """Ingest one provider event through its catalog entry; 202 also for ignored types.

    A payload without an id or a type is malformed: 400, and the provider sees a permanent
    failure rather than a retry loop.
    """
    if not isinstance(event_id, str | int) or not event_id or not isinstance(event_type, str):
        return api.json({"error": "malformed event: id and type are required"}, status=400)
    current().annotate(event=event_type)
    entry = catalog.get(event_type)
    if entry is None:
        body = {
            "ignored": True,
            "known": event_type in ignored,
            "eventId": event_id,
            "eventType": event_type,
        }
        return api.json(body, status=202)
    records = entry.transform(event, obj if obj is not None else {})
    results = [
        ingest.canonical(
            record.canonical_type,
            record.payload,
            stream=record.stream,
            idempotency_key=event_idempotency_key(provider, str(event_id), i),
        )
        for i, record in enumerate(records)
    ]
    return api.json({"ok": True, "eventId": event_id, "results": results}, status=202)
