"""Errors of the ingress service, each carrying its HTTP status."""

from __future__ import annotations

from services.base.errors import DependencyUnavailable, ServiceError

__all__ = [
    "DependencyUnavailable",  # shared with services.base.dedupe, which raises it
    "InvalidSignature",
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
