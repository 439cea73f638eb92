"""What a hook function receives besides the records: `HookContext`.

A hook file exports `before_save(ctx, record, previous)` (and/or `before_delete`,
`after_save`, `after_delete`); docs/extensions.md describes what each may return or raise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from contracts.entities import Actor


@dataclass(frozen=True)
class HookContext:
    """What a hook knows about the write besides the records; read-only.

    `write_id` identifies a before-write call, `change_id` a committed change (after_*); the
    platform keys what an after-hook ingests by the change, so a redelivery writes nothing twice.
    """

    installation_id: str
    extension_key: str
    settings: Any
    actor: Actor | None
    entity_type: str
    entity_id: str
    event: str
    operation: str
    write_id: str | None = None
    change_id: str | None = None
