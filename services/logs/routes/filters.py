"""The filter query parameters every log route takes, read once as a dependency."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar.params import FromQuery, QueryParameter

from contracts.logs import LogKind, LogLevel, ScriptType, VersionMode
from services.base.auth import Principal
from services.logs.service.queries import LogFilter

Q_DESCRIPTION = (
    "Free text in the message, case-insensitive (ASCII letters). Every whitespace-separated "
    "term must match a whole word: `timeout` does not match `timeouts`; a term with "
    "punctuation (`user_id=42`) matches as written with whole words at its ends. A term with "
    '`*` (`timeo*`, `*out`) or a quoted phrase (`"connection reset"`) matches anywhere, '
    "inside words too (`*` is any characters); these are slower than whole words."
)


class FilterParams(msgspec.Struct, frozen=True, kw_only=True):
    """Query parameters shared by the list and stream routes."""

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

    def scoped(
        self,
        principal: Principal,
        extension_key: str | None,
        installation_id: str | None,
    ) -> LogFilter:
        """The filter inside the caller's workspace (tenant isolation starts here)."""
        return LogFilter(
            workspace_id=principal.workspace_id,
            extension_key=extension_key,
            installation_id=installation_id,
            **msgspec.structs.asdict(self),
        )


async def provide_filters(
    since: FromQuery[float | None] = None,
    until: FromQuery[float | None] = None,
    level: FromQuery[LogLevel | None] = None,
    script_type: FromQuery[ScriptType | None] = None,
    kind: FromQuery[LogKind | None] = None,
    entity: FromQuery[str | None] = None,
    event: FromQuery[str | None] = None,
    route: FromQuery[str | None] = None,
    job: FromQuery[str | None] = None,
    version_id: FromQuery[str | None] = None,
    mode: FromQuery[VersionMode | None] = None,
    session_id: FromQuery[str | None] = None,
    q: Annotated[str | None, QueryParameter(max_length=200, description=Q_DESCRIPTION)] = None,
) -> FilterParams:
    """Litestar dependency: the filters of this request (400 naming a bad one)."""
    return FilterParams(
        since=since,
        until=until,
        level=level,
        script_type=script_type,
        kind=kind,
        entity=entity,
        event=event,
        route=route,
        job=job,
        version_id=version_id,
        mode=mode,
        session_id=session_id,
        q=q,
    )
