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
