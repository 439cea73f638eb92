"""Test connection: run a connector's `test_connection` with unsaved credentials; say why not.

Nothing is stored: the unsaved settings and plaintext secrets reach the runtime only as
overrides of this one invocation. A failing verdict is also published as a `platform` line
(`attrs.event = "test_connection_failed"`) on the extension logs topic, best effort, so the
Logs tab shows it and the logs service's `test_connection_failed` alert rules can fire; the
line carries the verdict's message with every submitted secret value cut out (a provider may
echo the key it rejected, and the connector may pass that on).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from contracts.ids import new_id
from contracts.logs import ExtensionLogLine
from runtime.interface import Invoker
from runtime.invocations import new_invocation
from services.sync.schemas import ConnectionTestRequest, ConnectionVerdict

log = logging.getLogger(__name__)
PublishLine = Callable[[ExtensionLogLine], Awaitable[None]]


class ConnectionTester:
    """Runs test_connection through the runtime and reports failures on the logs topic."""

    def __init__(self, runtime: Invoker, publish_line: PublishLine) -> None:
        self.runtime = runtime
        self.publish_line = publish_line

    async def test(self, request: ConnectionTestRequest) -> ConnectionVerdict:
        """The connector's verdict on these credentials; a failure is logged, never raised."""
        invocation = new_invocation(
            request.installation,
            request.version,
            kind="test_connection",
            entry="test_connection",
            settings_override=request.settings,
            secrets_override=request.secrets,
        )
        result = await self.runtime.invoke(invocation)
        body = result.response.body if result.response else None
        verdict = verdict_of(result.outcome, body, result.error)
        if not verdict.ok:
            await self._report(request, invocation.invocation_id, verdict)
        return verdict

    async def _report(
        self, request: ConnectionTestRequest, invocation_id: str, verdict: ConnectionVerdict
    ) -> None:
        installation = request.installation
        message = verdict.message
        for value in filter(None, request.secrets.values()):
            message = message.replace(value, "[redacted]")
        line = ExtensionLogLine(
            log_id=new_id("log"),
            at=time.time(),
            level="warn",
            message=f"test connection failed: {message}"[:2000],
            kind="platform",
            workspace_id=installation.workspace_id,
            installation_id=installation.installation_id,
            extension_key=installation.extension_key,
            version_id=request.version.version_id,
            invocation_id=invocation_id,
            script_type="route",
            script_name="test_connection",
            attrs={"event": "test_connection_failed"},
        )
        try:
            await self.publish_line(line)
        except Exception as error:  # the verdict still reaches the admin
            log.warning("test connection failure not logged", extra={"error": repr(error)})


def verdict_of(outcome: str, body: Any, error: str | None) -> ConnectionVerdict:
    """The runtime's result as the admin should read it."""
    if outcome == "ok" and isinstance(body, dict):
        return ConnectionVerdict(ok=bool(body.get("ok")), message=str(body.get("message", "")))
    if outcome == "not_found":
        return ConnectionVerdict(ok=False, message="this connector cannot test its connection")
    return ConnectionVerdict(ok=False, message=error or f"test connection ended with {outcome}")
