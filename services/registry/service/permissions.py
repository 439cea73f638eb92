"""What a manifest grants, and what changes between two versions (pure functions)."""

from __future__ import annotations

from contracts.manifest import Manifest
from services.registry.schemas import PermissionSet, UpgradeDiff


def permissions_of(manifest: Manifest) -> PermissionSet:
    """Entities (with access), HTTP hosts and secret names the code may reach."""
    entities = {e.type: e.access for e in manifest.permissions.entities}
    for definition in manifest.entities:
        entities[definition.name] = "write"
    return PermissionSet(
        entities=[f"{name}:{access}" for name, access in sorted(entities.items())],
        hosts=sorted(set(manifest.permissions.http)),
        secrets=sorted(set(manifest.permissions.secrets)),
        defines_entities=sorted(d.name for d in manifest.entities),
        hooks=[f"{h.entity}: {', '.join(h.events)} ({h.hook_name})" for h in manifest.hooks],
    )


def diff(
    old: Manifest | None, new: Manifest, from_version: str | None, to_version: str
) -> UpgradeDiff:
    """Added and removed grants; `widens` when anything is added (needs admin approval)."""
    before = permissions_of(old) if old else PermissionSet()
    after = permissions_of(new)
    added = PermissionSet(
        entities=_minus(after.entities, before.entities),
        hosts=_minus(after.hosts, before.hosts),
        secrets=_minus(after.secrets, before.secrets),
    )
    removed = PermissionSet(
        entities=_minus(before.entities, after.entities),
        hosts=_minus(before.hosts, after.hosts),
        secrets=_minus(before.secrets, after.secrets),
    )
    # "orders:write" after "orders:read" widens; "orders:read" after "orders:write" does not.
    rank = {"read": 1, "write": 2}
    had = {e.rsplit(":", 1)[0]: rank[e.rsplit(":", 1)[1]] for e in before.entities}
    more_entities = any(
        rank[e.rsplit(":", 1)[1]] > had.get(e.rsplit(":", 1)[0], 0) for e in after.entities
    )
    widens = bool(more_entities or added.hosts or added.secrets)
    return UpgradeDiff(
        from_version=from_version,
        to_version=to_version,
        added=added,
        removed=removed,
        widens=widens,
    )


def widens(old: Manifest | None, new: Manifest) -> bool:
    """Whether moving from `old` to `new` grants anything `old` did not."""
    return diff(old, new, None, "").widens


def _minus(a: list[str], b: list[str]) -> list[str]:
    return sorted(set(a) - set(b))
