"""The admin's event-type → canonical-type mapping, parsed from the `event_mapping` setting."""

from __future__ import annotations

from sdk import Canonical, CatalogEntry


def parse_mapping(text):
    """`a.b=type` pairs separated by newlines or commas; `prefix.*=type` matches a family."""
    mapping = {}
    for line in (text or "").replace(",", "\n").splitlines():
        event_type, sep, canonical_type = line.partition("=")
        if sep and event_type.strip() and canonical_type.strip():
            mapping[event_type.strip()] = canonical_type.strip()
    return mapping


def canonical_type_for(mapping, event_type):
    """The mapped canonical type: an exact entry first, then the longest matching family."""
    if event_type in mapping:
        return mapping[event_type]
    families = [k for k in mapping if k.endswith(".*") and event_type.startswith(k[:-1])]
    return mapping[max(families, key=len)] if families else None


def catalog_for(mapping, event_type, ingest_unmapped):
    """A one-entry catalog for this event type (empty: the type is ignored)."""
    canonical_type = canonical_type_for(mapping, event_type)
    if canonical_type is None and ingest_unmapped:
        canonical_type = "webhook_event"
    if canonical_type is None:
        return {}

    def transform(event, data):
        payload = {
            "id": data.get("id"),
            "event_type": event_type,
            "timestamp": event.get("timestamp"),
            "data": data,
        }
        return [Canonical(canonical_type, payload)]

    return {event_type: CatalogEntry(transform, f"mapped to {canonical_type}")}
