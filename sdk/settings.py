"""`settings.get(name)`: the installation's (non-secret) settings, schema defaults filled in."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sdk.context import current


def get(name: str, default: Any = None) -> Any:
    """One setting's value, or `default`."""
    return current().settings.get(name, default)


def all() -> Mapping[str, Any]:
    """Every setting (read-only)."""
    return current().settings
