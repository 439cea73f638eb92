"""`Log.debug/info/warn/error`: lines that reach the extension logs topic with full context."""

from __future__ import annotations

from typing import Any

from sdk.context import current


class Log:
    """Log from extension code; each line carries level, script, installation, version, invocation.

    Extra keyword arguments become structured attributes (JSON-serialisable values).
    """

    @staticmethod
    def debug(message: str, **attrs: Any) -> None:
        """A debug line."""
        current().log("debug", str(message), attrs)

    @staticmethod
    def info(message: str, **attrs: Any) -> None:
        """An info line."""
        current().log("info", str(message), attrs)

    @staticmethod
    def warn(message: str, **attrs: Any) -> None:
        """A warning line."""
        current().log("warn", str(message), attrs)

    @staticmethod
    def error(message: str, **attrs: Any) -> None:
        """An error line."""
        current().log("error", str(message), attrs)
