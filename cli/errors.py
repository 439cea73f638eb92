"""Exit codes that mean something, and the one error type commands raise to use them."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """What a `backfill` exit status tells a script."""

    OK = 0
    FAILED = 1  # the platform refused or the work failed (the message says why)
    USAGE = 2  # bad arguments (Click's own code)
    AUTH = 3  # no token, a revoked one, or a role that may not do this
    NOT_FOUND = 4  # no such extension, installation, delivery or version
    UNREACHABLE = 5  # a service did not answer, or answered 5xx/503
    NEEDS_CONFIRMATION = 6  # a widening change was not confirmed (use --yes in scripts)


class CliError(Exception):
    """A failure to report on stderr as `backfill: <message>` with `hint` on the next line."""

    def __init__(self, message: str, code: ExitCode = ExitCode.FAILED, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.hint = hint
