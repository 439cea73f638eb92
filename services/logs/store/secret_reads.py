"""Secret reads per installation: which script of which version read which secret name.

Never a value: the topic carries names only. The newest `last_read_at` per identity wins.
"""

from __future__ import annotations

from collections.abc import Sequence

from contracts.secret_reads import SecretRead
from services.logs.store.clickhouse import ClickHouse

COLUMNS = (
    "workspace_id",
    "installation_id",
    "extension_key",
    "version_id",
    "mode",
    "script_name",
    "secret_name",
    "first_read_at",
    "last_read_at",
    "reads",
)


class SecretReadStore:
    """Aggregated reads, one row per (installation, version, script, secret name)."""

    def __init__(self, clickhouse: ClickHouse) -> None:
        self.clickhouse = clickhouse

    async def add_many(self, reads: Sequence[SecretRead]) -> None:
        """One insert for the batch."""
        rows = [
            [
                r.workspace_id,
                r.installation_id,
                r.extension_key,
                r.version_id,
                r.mode,
                r.script_name,
                r.secret_name,
                r.first_read_at,
                r.last_read_at,
                r.reads,
            ]
            for r in reads
        ]
        await self.clickhouse.insert("secret_reads", COLUMNS, rows)

    async def of_installation(self, workspace_id: str, installation_id: str) -> list[SecretRead]:
        """Every identity's latest read, newest first."""
        rows = await self.clickhouse.rows(
            f"SELECT {', '.join(COLUMNS)} FROM secret_reads FINAL "
            "WHERE workspace_id = {w:String} AND installation_id = {i:String} "
            "ORDER BY last_read_at DESC",
            {"w": workspace_id, "i": installation_id},
        )
        return [SecretRead(**dict(zip(COLUMNS, row, strict=True))) for row in rows]
