"""Errors extension code can see: a refused capability, a refused submission."""

from __future__ import annotations


class PermissionDenied(Exception):
    """The manifest does not grant this host, secret or entity; the refusal is already logged.

    Raised into extension code; catching it does not undo the denial log line. Left uncaught,
    the invocation ends with outcome `denied`.
    """

    def __init__(self, capability: str, target: str, reason: str) -> None:
        super().__init__(f"{capability} {target!r} denied: {reason}")
        self.capability = capability
        self.target = target
        self.reason = reason


class ValidationError(Exception):
    """Refuse what a person submitted: a `before_*` hook's write or a page action's input.

    `field` names the field the message belongs next to (None for the whole record or form);
    `message` is shown to the person as written. Raise several with `ValidationErrors`.
    """

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message


class ValidationErrors(Exception):
    """Several validation errors at once (each shown next to its own field)."""

    def __init__(self, errors: list[ValidationError]) -> None:
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = list(errors)
