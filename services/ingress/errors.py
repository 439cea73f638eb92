"""Errors of the ingress service, each carrying its HTTP status."""

from __future__ import annotations

from services.base.errors import DependencyUnavailable, ServiceError

__all__ = [
    "DependencyUnavailable",  # shared with services.base.dedupe, which raises it
    "Disabled",
    "InvalidSignature",
    "ScriptFailed",
    "ScriptTimeout",
    "Uninstalled",
]


class Uninstalled(ServiceError):
    """The installation behind this URL was uninstalled; providers should stop sending."""

    status_code = 410
    code = "gone"


class InvalidSignature(ServiceError):
    """The delivery did not authenticate; the handler never ran. `reason` is recorded."""

    status_code = 401
    code = "invalid_signature"


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
