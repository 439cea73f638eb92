"""A stream page as `fetch` returned it, checked, and its records' idempotency keys."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sdk.streams import STAMP_FIELDS, Page


class MalformedPage(ValueError):
    """`fetch` returned something that is not a page; an error for this stream run only."""


@dataclass(frozen=True)
class CheckedPage:
    """A page whose shape is known good."""

    records: list[dict[str, Any]]
    next_cursor: str | None
    has_more: bool


def check_page(page: Any) -> CheckedPage:
    """Accept a `Page` or a dict with `records`, `next_cursor`, `has_more`; else MalformedPage."""
    records: Any
    if isinstance(page, Page):
        records, cursor, more = page.records, page.next_cursor, page.has_more
    elif isinstance(page, dict):
        unknown = set(page) - {"records", "next_cursor", "has_more"}
        if unknown:
            raise MalformedPage(f"unknown page fields {sorted(unknown)}")
        records = page.get("records")
        cursor, more = page.get("next_cursor"), page.get("has_more", False)
    else:
        raise MalformedPage(f"fetch returned {type(page).__name__}, not a Page")
    if not isinstance(records, list):
        raise MalformedPage("records must be a list")
    if cursor is not None and not isinstance(cursor, str):
        raise MalformedPage("next_cursor must be a string or None")
    if not isinstance(more, bool):
        raise MalformedPage("has_more must be a boolean")
    if more and cursor is None:
        raise MalformedPage("has_more without a next_cursor")
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise MalformedPage(f"records[{i}] is {type(record).__name__}, not an object")
        if record.get("id") in (None, ""):
            raise MalformedPage(f"records[{i}] has no id")
        if stamp_of(record) is None:
            raise MalformedPage(f"records[{i}] has none of {', '.join(STAMP_FIELDS)}")
    return CheckedPage(records, cursor, more)


def stamp_of(record: dict[str, Any]) -> Any:
    """The record's version stamp: `updated` (or `updated_at`), else `created`/`created_at`."""
    for name in STAMP_FIELDS:
        if record.get(name) not in (None, ""):
            return record[name]
    return None


def record_key(extension_key: str, canonical_type: str, record: dict[str, Any]) -> str:
    """`{extension}:{type}:{id}:{stamp}`: a changed object is a new record, a re-read is not."""
    return f"{extension_key}:{canonical_type}:{record['id']}:{stamp_of(record)}"
