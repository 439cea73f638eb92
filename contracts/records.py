"""Canonical records extensions ingest, and the would-be records of observed versions."""

from __future__ import annotations

from typing import Any, Literal

from contracts.base import Message

RecordSource = Literal["webhook", "stream", "replay", "route", "hook"]


class CanonicalRecord(Message, frozen=True, kw_only=True):
    """One record in Backfill's canonical model.

    Exactly one record per `idempotency_key` is published; subscribers that crash between
    processing and commit see it again and dedupe on the same key.
    """

    idempotency_key: str
    workspace_id: str
    installation_id: str
    extension_key: str
    version_id: str
    canonical_type: str
    stream: str | None = None
    payload: dict[str, Any]
    source: RecordSource
    source_id: str
    emitted_at: float


class ObservedRecord(Message, frozen=True, kw_only=True):
    """A record an observation (or draft) version would have written; never canonical."""

    idempotency_key: str
    workspace_id: str
    installation_id: str
    extension_key: str
    version_id: str
    mode: Literal["observe", "draft"]
    canonical_type: str
    stream: str | None = None
    payload: dict[str, Any]
    source: RecordSource
    source_id: str
    emitted_at: float
