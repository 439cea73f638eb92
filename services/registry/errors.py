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


class InvalidCode(ServiceError):
    """A bundle whose scripts do not compile, import or export their entry points: not deployed.

    `field` is the first offending bundle file; `problems` lists every one as
    `{file, line, message}` (line 0 when no line applies).
    """

    status_code = 422
    code = "invalid_code"

    def __init__(self, problems: list[dict[str, object]], summary: str) -> None:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(
            f"the bundle cannot run: {summary}{more}; nothing was deployed",
            field=str(problems[0]["file"]),
            problems=problems,
        )
