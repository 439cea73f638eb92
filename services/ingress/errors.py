"""Errors of the ingress service, each carrying its HTTP status."""

from __future__ import annotations

from typing import Any

from services.base.errors import NotFound, ServiceError, Unavailable


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


class DependencyUnavailable(Unavailable):
    """Kafka or Redis did not answer in time; nothing was promised, the provider retries."""

    def __init__(self, dependency: str, unsettled: list[Any] | None = None) -> None:
        super().__init__(f"{dependency} unavailable; retry later", dependency=dependency)
        self.dependency = dependency
        # Acks of records already handed to the producer: they may still land (timeout is not
        # failure), so their dedupe claims are settled later instead of released now.
        self.unsettled = unsettled or []
