"""Registry refusals, each with its HTTP status and a stable code."""

from __future__ import annotations

from services.base.errors import Conflict, ServiceError


class InvalidSettings(ServiceError):
    """Settings that fail the manifest's schema: one message per offending field."""

    status_code = 400
    code = "invalid_settings"

    def __init__(self, errors: dict[str, str]) -> None:
        first = next(iter(errors))
        text = "; ".join(f"{name}: {problem}" for name, problem in errors.items())
        super().__init__(f"invalid settings: {text}", field=f"settings.{first}", errors=errors)


class ConnectionTestFailed(ServiceError):
    """The connector rejected the credentials; nothing was saved."""

    status_code = 422
    code = "connection_test_failed"


class ApprovalRequired(Conflict):
    """The target version grants more than the running one; approve the diff to switch."""

    code = "approval_required"
