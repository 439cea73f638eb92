"""Manifest rules a schema cannot express for what extensions add (hooks, pages, UI), and
the error every manifest rule raises: `ManifestError` names the offending field.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import msgspec

if TYPE_CHECKING:
    from contracts.manifest import Manifest

PAGE_PATH_PATTERN = r"^/?[a-z0-9][a-z0-9-]{0,62}$"
ACTION_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
HOOK_TIMEOUT_MAX_MS = 5000


class ManifestError(ValueError):
    """A rejected manifest; `field` is a dotted path such as `permissions.http[0]`."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


_PATH = re.compile(r"at `\$\.?(?P<path>[^`]*)`")


def _field_of(error: msgspec.MsgspecError) -> tuple[str, str]:
    text = str(error)
    found = _PATH.search(text)
    message = _PATH.sub("", text).strip(" -")
    prefix = (found.group("path") + ".") if found and found.group("path") else ""
    named = re.search(r"(?:missing required|unknown) field `([^`]+)`", text)
    if named:
        return prefix + named.group(1), message
    return (prefix.rstrip(".") or "manifest"), message


def _require(ok: bool, field: str, message: str) -> None:
    if not ok:
        raise ManifestError(field, message)


def check_entry(entry: str, field: str) -> None:
    _require(
        entry.endswith(".py") and not entry.startswith("/") and ".." not in entry.split("/"),
        field,
        "must be a .py file inside the bundle, such as src/hooks/orders.py",
    )


def check_hooks(m: Manifest) -> None:
    readable = m.readable_entities()
    seen: set[tuple[str, str, str]] = set()
    for i, hook in enumerate(m.hooks):
        _require(
            hook.entity in readable,
            f"hooks[{i}].entity",
            f"subscribing to {hook.entity!r} needs at least read access in permissions.entities",
        )
        _require(bool(hook.events), f"hooks[{i}].events", "must name at least one event")
        check_entry(hook.entry, f"hooks[{i}].entry")
        _require(
            1 <= hook.timeout_ms <= HOOK_TIMEOUT_MAX_MS,
            f"hooks[{i}].timeoutMs",
            f"must be between 1 and {HOOK_TIMEOUT_MAX_MS}",
        )
        for event in hook.events:
            key = (hook.entity, event, hook.entry)
            _require(key not in seen, f"hooks[{i}].events", f"{event} is declared twice")
            seen.add(key)


def check_pages(m: Manifest) -> None:
    paths: set[str] = set()
    for i, page in enumerate(m.pages):
        _require(
            re.match(PAGE_PATH_PATTERN, page.path) is not None,
            f"pages[{i}].path",
            f"{page.path!r} must match {PAGE_PATH_PATTERN} (one URL segment)",
        )
        _require(page.segment not in paths, f"pages[{i}].path", "duplicate page path")
        paths.add(page.segment)
        check_entry(page.entry_file, f"pages[{i}].entry")
        names: set[str] = set()
        for j, action in enumerate(page.actions):
            _require(
                re.match(ACTION_NAME_PATTERN, action.name) is not None,
                f"pages[{i}].actions[{j}].name",
                f"{action.name!r} must match {ACTION_NAME_PATTERN}",
            )
            _require(action.name not in names, f"pages[{i}].actions[{j}].name", "duplicate")
            names.add(action.name)
    for i, ui in enumerate(m.ui):
        _require(
            bool(ui.entry) or bool(ui.page),
            f"ui[{i}].entry",
            "a contribution renders from an entry file or links to one of the pages",
        )
        if ui.entry:
            check_entry(ui.entry, f"ui[{i}].entry")
        if ui.page:
            _require(ui.page.strip("/") in paths, f"ui[{i}].page", f"no page with path {ui.page!r}")


def check_scripts(m: Manifest) -> None:
    """Hooks need read access to their entity; pages, actions and UI slots are well formed."""
    check_hooks(m)
    check_pages(m)
