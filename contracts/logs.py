"""Lines extension scripts log, plus the platform's own lines about them (denials, errors)."""

from __future__ import annotations

from typing import Any, Literal

from contracts.base import Message

LogLevel = Literal["debug", "info", "warn", "error"]
ScriptType = Literal["hook", "job", "route", "page_action"]
LogKind = Literal["log", "denial", "error", "would_write", "platform"]
VersionMode = Literal["active", "observe", "draft"]


class ExtensionLogLine(Message, frozen=True, kw_only=True):
    """One log line of one invocation, filterable by every field the Logs tab offers."""

    log_id: str
    at: float
    level: LogLevel
    message: str
    kind: LogKind = "log"
    workspace_id: str
    installation_id: str
    extension_key: str
    version_id: str
    invocation_id: str
    script_type: ScriptType
    script_name: str
    entity: str | None = None
    event: str | None = None
    route: str | None = None
    job: str | None = None
    attrs: dict[str, Any] = {}
    # Added compatibly (defaults): the mode of the version that ran, and the dev session a
    # draft invocation belongs to (`backfill dev` filters its live tail on it).
    mode: VersionMode = "active"
    session_id: str | None = None
