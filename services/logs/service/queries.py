"""Log filters (one definition for the store's SQL and the live tail) and keyset cursors."""

from __future__ import annotations

import base64
import binascii
from functools import lru_cache

import msgspec

from contracts.log_search import Matcher
from contracts.logs import ExtensionLogLine, LogKind, LogLevel, ScriptType, VersionMode
from services.logs.errors import InvalidCursor

SEVERITY: dict[str, int] = {"debug": 0, "info": 1, "warn": 2, "error": 3}
LEVELS_AT_LEAST: dict[str, tuple[str, ...]] = {
    level: tuple(name for name, rank in SEVERITY.items() if rank >= SEVERITY[level])
    for level in SEVERITY
}


@lru_cache(maxsize=256)
def _matcher(q: str) -> Matcher:
    """The compiled free-text test of `q` (a tail tests every line it sees against it)."""
    return Matcher(q)


class Cursor(msgspec.Struct, frozen=True):
    """Position after the last line of a page: (time in µs, log id), newest first."""

    at_us: int
    log_id: str

    def encode(self) -> str:
        """Opaque to clients."""
        raw = f"{self.at_us}:{self.log_id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        """Parse a token made by `encode`; 400 naming `cursor` otherwise."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            at_us, _, log_id = raw.partition(":")
            if not log_id:
                raise ValueError(token)
            return cls(int(at_us), log_id)
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise InvalidCursor("cursor is not one this API returned", field="cursor") from None


class LogFilter(msgspec.Struct, frozen=True, kw_only=True):
    """What the Logs tab, the CLI and the tail filter on; always inside one workspace.

    `level` is a minimum (warn = warn and error); `q` is free text, whole words unless a term
    has a `*` or is quoted (contracts/log_search.py); `since`/`until` are unix times
    (inclusive).
    """

    workspace_id: str
    extension_key: str | None = None
    installation_id: str | None = None
    since: float | None = None
    until: float | None = None
    level: LogLevel | None = None
    script_type: ScriptType | None = None
    kind: LogKind | None = None
    entity: str | None = None
    event: str | None = None
    route: str | None = None
    job: str | None = None
    version_id: str | None = None
    mode: VersionMode | None = None
    session_id: str | None = None
    q: str | None = None

    def matches(self, line: ExtensionLogLine) -> bool:
        """Whether `line` passes every filter that is set (the live tail's test)."""
        exact = (
            (self.workspace_id, line.workspace_id),
            (self.extension_key, line.extension_key),
            (self.installation_id, line.installation_id),
            (self.script_type, line.script_type),
            (self.kind, line.kind),
            (self.entity, line.entity),
            (self.event, line.event),
            (self.route, line.route),
            (self.job, line.job),
            (self.version_id, line.version_id),
            (self.mode, line.mode),
            (self.session_id, line.session_id),
        )
        if any(wanted is not None and wanted != value for wanted, value in exact):
            return False
        if self.level is not None and SEVERITY[line.level] < SEVERITY[self.level]:
            return False
        if self.since is not None and line.at < self.since:
            return False
        if self.until is not None and line.at > self.until:
            return False
        return not self.q or _matcher(self.q)(line.message)
