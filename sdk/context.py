"""The capabilities of the running invocation, bound per invocation through a contextvar.

The runtime binds a `Capabilities` object before it calls extension code, so module-level
`from sdk import ingest, Log, secrets, http` works in handlers: every call resolves the
capabilities of the invocation it runs in, and two concurrent invocations never see each
other's. Outside an invocation every capability raises `RuntimeError`.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol

import httpx

from contracts.logs import LogLevel


class Capabilities(Protocol):
    """What the runtime grants one invocation; each call enforces the manifest."""

    @property
    def settings(self) -> Mapping[str, Any]:
        """The installation's settings (schema defaults filled in)."""
        ...

    def log(self, level: LogLevel, message: str, attrs: dict[str, Any]) -> None:
        """Record a log line for the extension logs topic."""
        ...

    def secret(self, name: str) -> str | None:
        """A declared secret's plaintext (None when unset); PermissionDenied otherwise."""
        ...

    def ingest(
        self, canonical_type: str, payload: dict[str, Any], stream: str | None, key: str
    ) -> dict[str, Any]:
        """Write (or, in observation, intercept) one canonical record."""
        ...

    async def request(self, method: str, url: str, **options: Any) -> httpx.Response:
        """An HTTPS request to a declared host; PermissionDenied otherwise."""
        ...

    def annotate(self, **fields: str | None) -> None:
        """Set entity / event on the following log lines (what the Logs tab filters by)."""
        ...


_current: contextvars.ContextVar[Capabilities | None] = contextvars.ContextVar(
    "backfill_capabilities", default=None
)


def current() -> Capabilities:
    """The capabilities of the invocation this code runs in."""
    capabilities = _current.get()
    if capabilities is None:
        raise RuntimeError("SDK capabilities are only available inside a runtime invocation")
    return capabilities


@contextmanager
def bound(capabilities: Capabilities) -> Iterator[None]:
    """Bind `capabilities` for the code run inside the block (the runtime's side)."""
    token = _current.set(capabilities)
    try:
        yield
    finally:
        _current.reset(token)
