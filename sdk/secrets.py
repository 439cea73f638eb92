"""`secrets.get(name)`: plaintext of a secret the manifest declares, for this invocation only."""

from __future__ import annotations

from sdk.context import current


def get(name: str) -> str | None:
    """The secret's value, or None when declared but not set; PermissionDenied if undeclared."""
    return current().secret(name)
