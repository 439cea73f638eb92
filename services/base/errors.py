"""Errors that carry their own HTTP status, and the one JSON error shape of every service."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Sequence
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, SerializationException, ValidationException
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from contracts.answers.errors import ErrorAnswer, ErrorDetail


class ServiceError(Exception):
    """A refusal a client can act on: status, stable code, message and the offending field."""

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details


class NotFound(ServiceError):
    """The resource does not exist in the caller's workspace (or at all: no existence leak)."""

    status_code = 404
    code = "not_found"


class Conflict(ServiceError):
    """The request contradicts the resource's current state."""

    status_code = 409
    code = "conflict"


class Unauthenticated(ServiceError):
    """No valid bearer token."""

    status_code = 401
    code = "unauthenticated"


class Forbidden(ServiceError):
    """Authenticated, but the role does not allow this action."""

    status_code = 403
    code = "forbidden"


class Disabled(ServiceError):
    """The installation is disabled (or pending): its pages and routes run no code."""

    status_code = 503
    code = "disabled"


class ScriptFailed(ServiceError):
    """A page, action or contribution crashed or answered a tree the platform refuses."""

    status_code = 502
    code = "script_failed"


class InvalidAnswer(ServiceError):
    """A developer's draft answered what the platform cannot read (`field` names where): the
    bug is in the code the developer is running, so it is theirs to fix (422, not 500)."""

    status_code = 422
    code = "invalid_answer"


class ScriptTimeout(ServiceError):
    """Extension code ran past the runtime's time limit."""

    status_code = 504
    code = "timeout"


class Unavailable(ServiceError):
    """A dependency (Kafka, Redis) is unreachable; the caller should retry."""

    status_code = 503
    code = "unavailable"


class DependencyUnavailable(Unavailable):
    """Kafka or Redis did not answer in time; nothing was promised, the caller retries."""

    def __init__(
        self, dependency: str, unsettled: Sequence[Awaitable[object]] | None = None
    ) -> None:
        super().__init__(f"{dependency} unavailable; retry later", dependency=dependency)
        self.dependency = dependency
        # Acks of records already handed to the producer: they may still land (timeout is not
        # failure), so their dedupe claims are settled later instead of released now.
        self.unsettled = list(unsettled or [])


class InvalidMessage(Exception):
    """Raised by a consumer's step: this message can never be processed, park it.

    The only failure that sends a message to the dead-letter topic (besides one that does
    not decode); any other exception holds the message and retries (`services.base.consumers`).
    """


def error_body(
    code: str, message: str, field: str | None = None, details: Any = None
) -> dict[str, Any]:
    """The one error shape of every service (`contracts.answers.errors.ErrorAnswer`), as a
    dict: `{"error": {code, message, field?, details?}}`."""
    detail = ErrorDetail(code=code, message=message, field=field or None, details=details or None)
    built: dict[str, Any] = msgspec.to_builtins(ErrorAnswer(error=detail))
    return built


def service_error_handler(_: Request[Any, Any, Any], exc: ServiceError) -> Response[Any]:
    """Render a ServiceError as `{"error": {code, message, field}}` with its status."""
    return Response(
        error_body(exc.code, exc.message, exc.field, exc.details), status_code=exc.status_code
    )


_FIELD = re.compile(r"(?:missing required field `|at `\$\.?)([^`]+)`")


def field_in(message: str) -> str | None:
    """The body field msgspec names in its message (`$.settings.port` → `settings.port`)."""
    found = _FIELD.search(message)
    return found.group(1) if found else None


def validation_error_handler(_: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    """Render Litestar's body/query validation failures naming the first bad field."""
    extra = exc.extra if isinstance(exc.extra, list) else []
    first = extra[0] if extra and isinstance(extra[0], dict) else {}
    message = str(first.get("message") or exc.detail)
    field = field_in(message) or first.get("key") or None
    return Response(
        error_body("invalid_request", f"{field}: {message}" if field else message, field, extra),
        status_code=400,
    )


def http_error_handler(_: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """Render Litestar's own HTTP errors (404 route, 405 method) in the same shape."""
    code = {401: "unauthenticated", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}
    if exc.status_code == 400 and isinstance(exc.__cause__, SerializationException):
        # The body did not decode at all (msgspec says only "Input data was truncated").
        message = f"the request body is not valid JSON ({exc.detail})"
        return Response(error_body("invalid_json", message, "body"), status_code=400)
    return Response(
        error_body(code.get(exc.status_code, "error"), exc.detail), status_code=exc.status_code
    )


def unexpected_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Log a bug with its traceback; the client gets an opaque 500 (no internals leak)."""
    logging.getLogger("services.errors").error(
        "unhandled error", exc_info=exc, extra={"path": request.url.path, "method": request.method}
    )
    return Response(error_body("internal_error", "internal error"), status_code=500)


def dependency_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Redis unreachable or frozen past its socket timeout: 503 so the caller retries (it is
    not a bug, and nothing was committed: a MULTI that did not answer did not run)."""
    logging.getLogger("services.errors").warning(
        "dependency unavailable",
        extra={"path": request.url.path, "method": request.method, "error": repr(exc)},
    )
    return Response(
        error_body("unavailable", "a dependency (redis) is unavailable; retry later"),
        status_code=503,
        headers={"retry-after": "1"},
    )


EXCEPTION_HANDLERS = {
    Exception: unexpected_error_handler,
    ServiceError: service_error_handler,
    ValidationException: validation_error_handler,
    HTTPException: http_error_handler,
    RedisConnectionError: dependency_error_handler,
    RedisTimeoutError: dependency_error_handler,
}
