"""The observation report: what an observation version would write vs the active version.

For one installation with an observation version, over the records both sides produced
since the candidate was deployed: idempotency keys only one side produced, field-level
differences on shared keys (dotted paths), counts per canonical type per side, and the
candidate's errors and denials. Bounded: at most `limit` records per side are compared
(`truncated` says when more existed).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

# The report's answer is declared once, in contracts.answers (re-exported here).
from contracts.answers.logs import FieldDiff, ObservationReport, TypeCounts
from contracts.logs import ExtensionLogLine
from services.base.snapshots import SnapshotView
from services.logs.errors import InstallationNotFound, NoObservationVersion
from services.logs.service.queries import LogFilter
from services.logs.store.lines import LogLineStore
from services.logs.store.records import RecordStore, StoredRecord

MISSING = "<missing>"


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """`{"a": {"b": 1}, "c": [1]}` → `{"a.b": 1, "c": [1]}` (lists compared whole)."""
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key, inner in value.items():
            out.update(flatten(inner, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def diff_records(active: StoredRecord, candidate: StoredRecord) -> list[FieldDiff]:
    """Field-level differences between the two sides' records of one key."""
    left, right = flatten(active.payload), flatten(candidate.payload)
    found = []
    for path in sorted(set(left) | set(right)):
        a, c = left.get(path, MISSING), right.get(path, MISSING)
        if a != c:
            found.append(
                FieldDiff(
                    idempotency_key=active.idempotency_key,
                    canonical_type=candidate.canonical_type,
                    path=path,
                    active=a,
                    candidate=c,
                )
            )
    return found


class ObservationReports:
    """Builds reports from the record store, the log store and the snapshot view."""

    def __init__(
        self, records: RecordStore, lines: LogLineStore, view: SnapshotView, limit: int = 10_000
    ) -> None:
        self.records = records
        self.lines = lines
        self.view = view
        self.limit = limit

    async def report(self, workspace_id: str, installation_id: str) -> ObservationReport:
        """404 for an installation of another workspace; 409 without an observation version."""
        snapshot = self.view.get(installation_id)
        if snapshot is None or snapshot.workspace_id != workspace_id:
            raise InstallationNotFound("no such installation", field="installation_id")
        if snapshot.observation is None:
            raise NoObservationVersion("the installation has no observation version")
        candidate_id = snapshot.observation.version_id
        since = snapshot.observation.deployed_at
        candidate = await self.records.side(
            workspace_id,
            installation_id,
            "observed",
            version_id=candidate_id,
            since=since,
            limit=self.limit + 1,
        )
        active = await self.records.side(
            workspace_id,
            installation_id,
            "canonical",
            version_id=None,
            since=since,
            limit=self.limit + 1,
        )
        truncated = len(candidate) > self.limit or len(active) > self.limit
        by_key_c = {r.idempotency_key: r for r in candidate[: self.limit]}
        by_key_a = {r.idempotency_key: r for r in active[: self.limit]}
        shared = sorted(set(by_key_a) & set(by_key_c))
        differences: list[FieldDiff] = []
        differing = 0
        for key in shared:
            found = diff_records(by_key_a[key], by_key_c[key])
            differing += bool(found)
            differences += found
        count_a = Counter(r.canonical_type for r in by_key_a.values())
        count_c = Counter(r.canonical_type for r in by_key_c.values())
        problems = await self._problems(workspace_id, installation_id, candidate_id, since)
        return ObservationReport(
            installation_id=installation_id,
            active_version_id=snapshot.active.version_id if snapshot.active else None,
            candidate_version_id=candidate_id,
            since=since,
            compared_active=len(by_key_a),
            compared_candidate=len(by_key_c),
            only_active=sorted(set(by_key_a) - set(by_key_c)),
            only_candidate=sorted(set(by_key_c) - set(by_key_a)),
            differences=differences[:1000],
            keys_with_differences=differing,
            identical=len(shared) - differing,
            counts=[
                TypeCounts(canonical_type=t, active=count_a[t], candidate=count_c[t])
                for t in sorted(set(count_a) | set(count_c))
            ],
            candidate_errors=sum(1 for line in problems if line.kind == "error"),
            candidate_denials=sum(1 for line in problems if line.kind == "denial"),
            candidate_problems=problems[:50],
            truncated=truncated,
        )

    async def _problems(
        self, workspace_id: str, installation_id: str, version_id: str, since: float
    ) -> list[ExtensionLogLine]:
        found: list[ExtensionLogLine] = []
        for kind in ("error", "denial"):
            query = LogFilter(
                workspace_id=workspace_id,
                installation_id=installation_id,
                version_id=version_id,
                kind=kind,
                since=since,
            )
            lines, _ = await self.lines.page(query, None, 500)
            found += lines
        return sorted(found, key=lambda line: line.at, reverse=True)
