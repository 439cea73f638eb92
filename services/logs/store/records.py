"""Canonical and would-write records of observed installations, for the observation report.

Only installations that have an observation version keep their records here (the
subscriber decides); both sides are keyed by idempotency key and read with FINAL, so a
redelivered record counts once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Literal

import msgspec

from contracts.records import CanonicalRecord, ObservedRecord
from services.logs.store.clickhouse import ClickHouse

COLUMNS = (
    "workspace_id",
    "installation_id",
    "side",
    "version_id",
    "idempotency_key",
    "canonical_type",
    "emitted_at",
    "payload",
)
Side = Literal["canonical", "observed"]


class StoredRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One side's record of one idempotency key."""

    idempotency_key: str
    canonical_type: str
    version_id: str
    emitted_at: float
    payload: dict[str, Any]


class RecordStore:
    """Both sides of an observation, per installation."""

    def __init__(self, clickhouse: ClickHouse) -> None:
        self.clickhouse = clickhouse

    async def add_many(
        self, side: Side, records: Sequence[CanonicalRecord | ObservedRecord]
    ) -> None:
        """One insert for the batch."""
        rows = [
            [
                r.workspace_id,
                r.installation_id,
                side,
                r.version_id,
                r.idempotency_key,
                r.canonical_type,
                dt.datetime.fromtimestamp(r.emitted_at, dt.UTC),
                msgspec.json.encode(r.payload).decode(),
            ]
            for r in records
        ]
        await self.clickhouse.insert("records", COLUMNS, rows)

    async def side(
        self,
        workspace_id: str,
        installation_id: str,
        side: Side,
        *,
        version_id: str | None,
        since: float,
        limit: int,
    ) -> list[StoredRecord]:
        """Records of one side since `since` (optionally of one version), oldest first."""
        where = (
            "workspace_id = {w:String} AND installation_id = {i:String} AND side = {s:String} "
            "AND emitted_at >= fromUnixTimestamp64Micro({since:Int64}, 'UTC')"
        )
        params: dict[str, Any] = {
            "w": workspace_id,
            "i": installation_id,
            "s": side,
            "since": int(since * 1e6),
            "limit": limit,
        }
        if version_id is not None:
            where += " AND version_id = {v:String}"
            params["v"] = version_id
        rows = await self.clickhouse.rows(
            "SELECT idempotency_key, canonical_type, version_id, "
            "toUnixTimestamp64Micro(emitted_at), payload "
            f"FROM records FINAL WHERE {where} ORDER BY emitted_at LIMIT {{limit:UInt32}}",
            params,
        )
        return [
            StoredRecord(
                idempotency_key=r[0],
                canonical_type=r[1],
                version_id=r[2],
                emitted_at=r[3] / 1e6,
                payload=msgspec.json.decode(r[4]),
            )
            for r in rows
        ]
