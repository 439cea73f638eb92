"""Alert rules evaluated on what the service consumes; each fires at most once per window.

Rule types and their `params`:
- `extension_errors`: error lines (kind `error` or level `error`); `extension_key`,
  `installation_id` optional.
- `denials`: permission denials; `extension_key`, `installation_id` optional.
- `test_connection_failed`: sync's `platform` line with attrs `{"event":
  "test_connection_failed"}`; `installation_id` optional.
- `stream_failing`: a stream whose `consecutive_failures` reached `runs` (default 3).
- `stream_stuck`: no success for `intervals` (default 3) scheduling intervals (the interval
  is `next_run_at - last_run_at` of the status, or `interval_s`).
- `webhook_5xx_rate`: a webhook window with at least `min_deliveries` (default 10)
  deliveries whose 5xx share exceeds `threshold` (default 0.1).
`stream`, `installation_id` narrow the stream and webhook rules. "Once per window" holds
across replicas: the first evaluator to claim (rule, window index) in Redis fires.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec

from contracts.health import WebhookHealthWindow
from contracts.logs import ExtensionLogLine
from contracts.streams import StreamStatus
from services.logs.store.alerts import AlertStore, Delivery, RuleRecord

LINE_RULES = ("extension_errors", "denials", "test_connection_failed")


def _line_fits(rule: RuleRecord, line: ExtensionLogLine) -> bool:
    params = rule.params
    for name in ("extension_key", "installation_id"):
        if params.get(name) and params[name] != getattr(line, name):
            return False
    if rule.type == "extension_errors":
        return line.kind == "error" or line.level == "error"
    if rule.type == "denials":
        return line.kind == "denial"
    return line.kind == "platform" and line.attrs.get("event") == "test_connection_failed"


def _status_fits(rule: RuleRecord, status: StreamStatus) -> bool:
    params = rule.params
    if params.get("installation_id") and params["installation_id"] != status.installation_id:
        return False
    if params.get("stream") and params["stream"] != status.stream:
        return False
    if rule.type == "stream_failing":
        return status.consecutive_failures >= int(params.get("runs", 3))
    if status.last_run_at is None:
        return False
    if status.next_run_at is not None and status.next_run_at > status.last_run_at:
        interval = status.next_run_at - status.last_run_at
    else:
        interval = float(params.get("interval_s", 0) or 0)
    if interval <= 0:
        return False
    since = status.last_success_at if status.last_success_at is not None else None
    if since is None:
        return status.consecutive_failures >= int(params.get("intervals", 3))
    return status.at - since > int(params.get("intervals", 3)) * interval


def _window_fits(rule: RuleRecord, window: WebhookHealthWindow) -> bool:
    params = rule.params
    if params.get("installation_id") and params["installation_id"] != window.installation_id:
        return False
    if window.deliveries < int(params.get("min_deliveries", 10)) or not window.deliveries:
        return False
    return window.status_5xx / window.deliveries > float(params.get("threshold", 0.1))


class AlertRules:
    """Evaluates rules (cached per workspace for `cache_s`) and queues what fires."""

    def __init__(self, store: AlertStore, cache_s: float) -> None:
        self.store = store
        self.cache_s = cache_s
        self._cache: dict[str, tuple[float, list[RuleRecord]]] = {}

    def forget(self, workspace_id: str) -> None:
        """Drop the cached rules of a workspace (after a local change)."""
        self._cache.pop(workspace_id, None)

    async def rules_of(self, workspace_id: str) -> list[RuleRecord]:
        """The workspace's rules, at most `cache_s` old."""
        cached = self._cache.get(workspace_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        rules = await self.store.rules(workspace_id)
        self._cache[workspace_id] = (time.monotonic() + self.cache_s, rules)
        return rules

    async def has_line_rules(self, workspace_id: str) -> bool:
        """Whether any rule of the workspace looks at log lines (lines of a workspace without
        one are never decoded for the rules)."""
        return any(rule.type in LINE_RULES for rule in await self.rules_of(workspace_id))

    async def on_lines(self, lines: Sequence[ExtensionLogLine]) -> None:
        """Error, denial and test-connection lines against the line rules."""
        relevant = [
            line
            for line in lines
            if line.kind in ("error", "denial", "platform") or line.level == "error"
        ]
        for workspace_id in {line.workspace_id for line in relevant}:
            rules = [r for r in await self.rules_of(workspace_id) if r.type in LINE_RULES]
            for rule in rules:
                mine = (ln for ln in relevant if ln.workspace_id == workspace_id)
                hit = next((ln for ln in mine if _line_fits(rule, ln)), None)
                if hit is not None:
                    await self.fire(rule, _line_summary(rule, hit))

    async def on_stream_statuses(self, statuses: Iterable[StreamStatus]) -> None:
        """Stream statuses against the stream rules."""
        for status in statuses:
            for rule in await self.rules_of(status.workspace_id):
                if rule.type in ("stream_failing", "stream_stuck") and _status_fits(rule, status):
                    await self.fire(rule, _status_summary(rule, status))

    async def on_webhook_windows(self, windows: Iterable[WebhookHealthWindow]) -> None:
        """Webhook windows against the 5xx-rate rules."""
        for window in windows:
            for rule in await self.rules_of(window.workspace_id):
                if rule.type == "webhook_5xx_rate" and _window_fits(rule, window):
                    await self.fire(rule, _window_summary(window))

    async def fire(self, rule: RuleRecord, details: dict[str, Any]) -> bool:
        """Queue one alert unless this rule already fired in the current window."""
        now = time.time()
        window = int(now // rule.window_s)
        ttl = int(rule.window_s * 2) + 1
        if not await self.store.claim_window(rule.workspace_id, rule.id, window, ttl):
            return False
        alert_id = f"alert_{uuid.uuid4().hex}"
        body = {
            "type": "alert.fired",
            "alert_id": alert_id,
            "rule_id": rule.id,
            "rule_type": rule.type,
            "workspace_id": rule.workspace_id,
            "at": now,
            "window_s": rule.window_s,
            "details": details,
        }
        delivery = Delivery(
            id=f"dlv_{uuid.uuid4().hex}",
            workspace_id=rule.workspace_id,
            destination_id=rule.destination_id,
            alert_id=alert_id,
            body=msgspec.json.encode(body).decode(),
            first_at=now,
        )
        await self.store.schedule(delivery, now)
        return True


def _line_summary(rule: RuleRecord, line: ExtensionLogLine) -> dict[str, Any]:
    return {
        "summary": f"{rule.type.replace('_', ' ')}: {line.message[:200]}",
        "extension_key": line.extension_key,
        "installation_id": line.installation_id,
        "version_id": line.version_id,
        "log_id": line.log_id,
        "at": line.at,
    }


def _status_summary(rule: RuleRecord, status: StreamStatus) -> dict[str, Any]:
    return {
        "summary": f"stream {status.stream} {rule.type.removeprefix('stream_')}",
        "installation_id": status.installation_id,
        "stream": status.stream,
        "state": status.state,
        "consecutive_failures": status.consecutive_failures,
        "last_success_at": status.last_success_at,
        "last_error": status.last_error,
    }


def _window_summary(window: WebhookHealthWindow) -> dict[str, Any]:
    return {
        "summary": f"webhook 5xx rate {window.status_5xx}/{window.deliveries}",
        "installation_id": window.installation_id,
        "deliveries": window.deliveries,
        "status_5xx": window.status_5xx,
        "window_start": window.window_start,
        "window_end": window.window_end,
    }
