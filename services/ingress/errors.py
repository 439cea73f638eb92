"""Errors of the ingress service, each carrying its HTTP status."""

from __future__ import annotations

from services.base.errors import DependencyUnavailable, NotFound, ServiceError

__all__ = [
    "DependencyUnavailable",  # shared with services.base.dedupe, which raises it
    "InvalidSignature",
    "MalformedPayload",
    "Uninstalled",
    "UnknownHook",
]


class UnknownHook(NotFound):
    """No installation has this webhook URL (or it was rotated away)."""


class Uninstalled(ServiceError):
    """The installation behind this URL was uninstalled; providers should stop sending."""

    status_code = 410
    code = "gone"


class InvalidSignature(ServiceError):
    """The delivery did not authenticate; the handler never ran. `reason` is recorded."""

    status_code = 401
    code = "invalid_signature"


class MalformedPayload(ServiceError):
    """The body is not the JSON the endpoint expects."""

    status_code = 400
    code = "malformed_payload"


class Disabled(ServiceError):
    """The installation is disabled (or pending): its pages and routes run no code."""

    status_code = 503
    code = "disabled"


class ScriptFailed(ServiceError):
    """A page, action or contribution crashed or answered a tree the platform refuses."""

    status_code = 502
    code = "script_failed"


class ScriptTimeout(ServiceError):
    """A page, action or contribution ran past the runtime's time limit."""

    status_code = 504
    code = "timeout"
