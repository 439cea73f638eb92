"""Errors extension code can see: a refused capability."""

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
