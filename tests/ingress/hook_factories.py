"""Plain factories for hook tests: write an extension with one hook file, run a write."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import httpx
import msgspec

from contracts.ids import new_id

INTERNAL = {"authorization": "Bearer test-internal-token"}


def hook_extension(
    root: Path,
    code: str,
    *,
    key: str | None = None,
    entity: str = "deal",
    access: str = "write",
    events: tuple[str, ...] = ("before_save",),
    on_error: str = "fail_closed",
    timeout_ms: int = 1000,
    priority: int = 100,
    entities: list[dict[str, Any]] | None = None,
    http: list[str] | None = None,
) -> Path:
    """An extension directory whose `src/hooks/guard.py` is `code` (dedented)."""
    key = key or new_id("ext").replace("_", "-").lower()
    directory = root / key
    (directory / "src" / "hooks").mkdir(parents=True)
    manifest = {
        "key": key,
        "kind": "extension",
        "name": f"Hook test {key}",
        "version": "1.0.0",
        "permissions": {"entities": [{"type": entity, "access": access}], "http": http or []},
        "entities": entities or [],
        "hooks": [
            {
                "entity": entity,
                "events": list(events),
                "entry": "src/hooks/guard.py",
                "name": "guard",
                "onError": on_error,
                "timeoutMs": timeout_ms,
                "priority": priority,
            }
        ],
    }
    (directory / "manifest.json").write_bytes(msgspec.json.encode(manifest))
    (directory / "src" / "hooks" / "guard.py").write_text(textwrap.dedent(code))
    return directory


def entity_write(
    record: dict[str, Any] | None,
    *,
    previous: dict[str, Any] | None = None,
    operation: str = "save",
    session_id: str | None = None,
) -> dict[str, Any]:
    """An `EntityWrite` body as the core sends it."""
    body: dict[str, Any] = {
        "write_id": new_id("wr"),
        "operation": operation,
        "entity_id": new_id("deal"),
        "record": record,
        "previous": previous,
        "actor": {"type": "member", "id": "mem_writer", "email": "kim@example.com"},
    }
    if session_id is not None:
        body["session_id"] = session_id
    return body


async def before_write(
    http: httpx.AsyncClient,
    url: str,
    workspace_id: str,
    body: dict[str, Any],
    entity: str = "deal",
) -> httpx.Response:
    """The core's before-write call."""
    return await http.post(
        f"{url}/internal/workspaces/{workspace_id}/entities/{entity}/before-write",
        json=body,
        headers=INTERNAL,
        timeout=30,
    )
