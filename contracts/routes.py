"""Extension API routes: the route table a version carries and the API keys that open it.

Every file under a bundle's `src/api/` is a route: its path below `src/api/` is the URL path
(`index.py` serves its folder; a `[name]` segment is a path parameter), it exports one
handler per HTTP method (`GET = api(...)`, `POST = ...`) and a `config = {"auth": ...}`.
The registry builds the table at deploy, when it imports every file in the locked-down
runtime, and refuses a file with no handler or an unknown auth, naming the file. Ingress
serves the active version's table under the installation's stable base URL
`/ext/{installation_id}` (draft and observation versions only under
`/ext/{installation_id}/_dev/{session_id}`) and checks auth before any extension code runs.
A connector's webhook endpoint keeps its signature scheme at `/hooks/{hook_id}`; signature
schemes are never accepted on other routes.
"""

from __future__ import annotations

import re
from typing import Literal

import msgspec

from contracts.manifest import ConnectorAuth, RouteAuth

HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
HTTP_METHODS: tuple[str, ...] = ("GET", "POST", "PUT", "PATCH", "DELETE")
# One segment of a route file's path: a literal (never starting with `_`, so the platform's
# `_dev` segment cannot collide) or a `[param]`.
SEGMENT = re.compile(r"^(?P<literal>[a-z0-9][a-z0-9_-]*)$|^\[(?P<param>[a-z_][a-z0-9_]*)\]$")
API_KEY_PREFIX = "bfk_"


class RouteSpec(msgspec.Struct, frozen=True, kw_only=True):
    """One route of a version: URL pattern, bundle file, methods it exports, its auth."""

    path: str  # `/orders/{id}`
    file: str  # `src/api/orders/[id].py`
    methods: list[HttpMethod]
    auth: RouteAuth | ConnectorAuth
    webhook: bool = False  # the manifest's webhooks.endpoint (served at /hooks/{hook_id})


class RouteFileError(ValueError):
    """A file under src/api/ that cannot be a route; `file` names it."""

    def __init__(self, file: str, message: str) -> None:
        super().__init__(f"{file}: {message}")
        self.file = file
        self.message = message


def route_path(file: str) -> str:
    """`src/api/orders/[id].py` → `/orders/{id}`; `src/api/index.py` → `/`."""
    if not (file.startswith("src/api/") and file.endswith(".py")):
        raise RouteFileError(file, "route files live under src/api/ and end in .py")
    parts = file.removeprefix("src/api/").removesuffix(".py").split("/")
    if parts[-1] == "index":
        parts = parts[:-1]
    out = []
    for part in parts:
        found = SEGMENT.match(part)
        if found is None:
            raise RouteFileError(file, f"segment {part!r} is not a-z0-9_- or [param]")
        out.append(found["literal"] or "{" + found["param"] + "}")
    return "/" + "/".join(out)


def match_route(routes: list[RouteSpec], path: str) -> tuple[RouteSpec, dict[str, str]] | None:
    """The route serving `path` and its parameters; literal segments win over parameters."""
    wanted = [p for p in path.strip("/").split("/") if p]
    best: tuple[int, RouteSpec, dict[str, str]] | None = None
    for route in routes:
        pattern = [p for p in route.path.strip("/").split("/") if p]
        if len(pattern) != len(wanted):
            continue
        params: dict[str, str] = {}
        literals = 0
        for want, have in zip(pattern, wanted, strict=True):
            if want.startswith("{"):
                params[want[1:-1]] = have
            elif want == have:
                literals += 1
            else:
                break
        else:
            if best is None or literals > best[0]:
                best = (literals, route, params)
    return (best[1], best[2]) if best else None


class ApiKey(msgspec.Struct, frozen=True, kw_only=True):
    """An installation's API key as listed: never the key itself, only its prefix."""

    key_id: str
    installation_id: str
    name: str
    prefix: str  # the first characters of the key, to recognise it
    created_at: float
    created_by: str
    rotated_from: str | None = None
    revoked_at: float | None = None
    last_used_at: float | None = None


class ApiKeyIssued(msgspec.Struct, frozen=True, kw_only=True):
    """Answer to create and rotate: the only time the plaintext `secret` is shown."""

    key: ApiKey
    secret: str
