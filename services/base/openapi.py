"""The error answers every operation documents: one shape, the statuses it can really give.

Litestar documents its own `{status_code, detail, extra}` body for validation errors, but every
service answers `{"error": {"code", "message", "field"}}` (services/base/errors.py). This
rewrites each operation's error responses in the generated document to that shape, and adds
the statuses the shared machinery can give to any operation: 400 (bad input), 401/403 (bearer
token and role, where the route takes the token), 404 (an id in the path, or named in the
body), 409 (a write, or any call on a resource, that contradicts its state: an uninstalled
installation), 413 (a body over the limit) and 503 (Kafka or Redis unreachable: retry).
A route that answers server-sent events (a live tail) documents its success answer as
`text/event-stream`, not the JSON Litestar assumes for any return type.
"""

from __future__ import annotations

import re
from typing import Any

from litestar import Litestar
from litestar.openapi.spec import (
    Components,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Reference,
    Schema,
)
from litestar.openapi.spec.security_scheme import SecurityScheme
from litestar.response import ServerSentEvent

ERROR_SCHEMA = "Error"
REASONS = {
    400: "Bad input: `error.field` names the offending field",
    401: "Missing, unknown or revoked bearer token (webhooks: no valid signature)",
    403: "The token's role may not do this (admin only)",
    404: "Not found in the caller's workspace",
    409: "Contradicts the resource's current state",
    413: "Request body over the size limit",
    503: "A dependency (Kafka, Redis) is unreachable: retry later",
}
_WRITES = {"post", "put", "patch", "delete"}
# One server-sent event (before OpenAPI 3.2's `itemSchema`, an event stream's `schema`
# describes each event): `data` is text, JSON for the services' own events.
_EVENT = Schema(
    type=OpenAPIType.OBJECT,
    required=["event", "data"],
    properties={
        "event": Schema(type=OpenAPIType.STRING),
        "data": Schema(type=OpenAPIType.STRING),
        "id": Schema(type=OpenAPIType.STRING),
        "retry": Schema(type=OpenAPIType.INTEGER),
    },
)


def error_schema() -> Schema:
    """`{"error": {"code", "message", "field"?, "details"?}}`."""
    return Schema(
        type=OpenAPIType.OBJECT,
        required=["error"],
        properties={
            "error": Schema(
                type=OpenAPIType.OBJECT,
                required=["code", "message"],
                properties={
                    "code": Schema(type=OpenAPIType.STRING),
                    "message": Schema(type=OpenAPIType.STRING),
                    "field": Schema(type=[OpenAPIType.STRING, OpenAPIType.NULL]),
                    "details": Schema(),
                },
            )
        },
    )


def _error_response(status: int) -> OpenAPIResponse:
    return OpenAPIResponse(
        description=REASONS[status],
        content={
            "application/json": OpenAPIMediaType(
                schema=Reference(ref=f"#/components/schemas/{ERROR_SCHEMA}")
            )
        },
    )


def _operations_where(app: Litestar, test: Any) -> set[tuple[str, str]]:
    """(path, method) of every route whose handler passes `test`."""
    found = set()
    for route in app.routes:
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
        for handler in getattr(route, "route_handlers", []):
            if test(handler):
                found |= {(path, method.lower()) for method in handler.http_methods}
    return found


def authenticated_operations(app: Litestar) -> set[tuple[str, str]]:
    """(path, method) of every route whose handler takes the bearer-token `principal`."""
    return _operations_where(app, lambda h: "principal" in h.parsed_fn_signature.parameters)


def event_stream_operations(app: Litestar) -> set[tuple[str, str]]:
    """(path, method) of every route whose handler answers server-sent events."""
    return _operations_where(
        app, lambda h: h.parsed_fn_signature.return_type.is_subclass_of(ServerSentEvent)
    )


def _event_stream(response: OpenAPIResponse | Reference) -> OpenAPIResponse | Reference:
    if isinstance(response, OpenAPIResponse):
        response.content = {"text/event-stream": OpenAPIMediaType(schema=_EVENT)}
    return response


def document_errors(app: Litestar) -> None:
    """Rewrite the app's OpenAPI document in place (before it is first served)."""
    authenticated = authenticated_operations(app)
    event_streams = event_stream_operations(app)
    document = app.openapi_schema
    if document.components is None:
        document.components = Components()
    components = document.components if isinstance(document.components, Components) else None
    if components is None:
        return
    components.schemas = {**(components.schemas or {}), ERROR_SCHEMA: error_schema()}
    components.security_schemes = {
        **(components.security_schemes or {}),
        "bearer": SecurityScheme(type="http", scheme="bearer", description="workspace API token"),
    }
    for path, item in (document.paths or {}).items():
        for method in ("get", "put", "post", "delete", "patch"):
            operation = getattr(item, method, None)
            if operation is None:
                continue
            statuses = {400, 503}
            if (path, method) in authenticated:
                statuses |= {401, 403}
                operation.security = [{"bearer": []}]
            if path.startswith("/hooks/"):
                statuses.add(401)  # no valid signature
            if "{" in path:
                statuses |= {404, 409}  # 409: e.g. an uninstalled installation answers every call
            if method in _WRITES:
                statuses.add(409)
            if operation.request_body is not None:
                statuses |= {404, 413}  # a body can name what does not exist (extension_key)
            responses = dict(operation.responses or {})
            if (path, method) in event_streams:
                for code, response in responses.items():
                    if code.startswith("2"):
                        responses[code] = _event_stream(response)
            for code in list(responses):
                if code.isdigit() and int(code) >= 400:
                    statuses.add(int(code))
            for status in sorted(statuses):
                if status in REASONS:
                    responses[str(status)] = _error_response(status)
            operation.responses = responses
