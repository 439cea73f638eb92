"""The raw ASGI fast path for `POST /hooks/{hook_id}`, in front of Litestar.

Deliveries are the hot path: `DeliveryEndpoint` answers them as raw ASGI (no routing,
dependency injection, request/response objects or middleware), with the answer's bytes
prebuilt or encoded once (`answers.py`). Every other request goes on to the Litestar app.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from litestar.enums import ScopeType
from litestar.plugins.prometheus import PrometheusConfig
from litestar.plugins.prometheus.middleware import PrometheusMiddleware
from litestar.types import ASGIApp, HTTPResponseStartEvent, Receive, Scope, Send

from services.ingress.answers import INTERNAL, TOO_LARGE
from services.ingress.service import WebhookIngress

log = logging.getLogger(__name__)

HOOKS = "/hooks/"
DELIVERY_TEMPLATE = "/hooks/{hook_id}"  # the `path` label Litestar's middleware gives the route
_JSON = (b"content-type", b"application/json")


class DeliveryEndpoint:
    """`POST /hooks/{hook_id}` (one path segment) answered directly; other requests go to `app`.

    Keeps what Litestar gave this route: the body size limit (413), the error shape of an
    unexpected failure (500, logged with its traceback), and a count in /metrics under the
    same series (`litestar_requests_total` etc., path `/hooks/{hook_id}`).
    """

    def __init__(
        self,
        ingress: WebhookIngress,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        prometheus: PrometheusConfig | None,
    ) -> None:
        self.ingress = ingress
        self.app = app
        self.max_body_bytes = max_body_bytes
        self._metrics = _DeliveryMetrics(prometheus) if prometheus is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP and scope["method"] == "POST":
            path = scope["path"]
            hook_id = path[len(HOOKS) :]
            if path.startswith(HOOKS) and hook_id and "/" not in hook_id:
                await self._deliver(hook_id, scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _deliver(self, hook_id: str, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        if self._metrics is not None:
            self._metrics.in_progress.inc()
        status = 500
        try:
            body = await _body(receive, self.max_body_bytes)
            if body is None:
                return  # the client went away; nobody to answer
            if len(body) > self.max_body_bytes:
                answer = TOO_LARGE
            else:
                headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
                try:
                    answer = await self.ingress.receive(hook_id, body, headers)
                except Exception:
                    log.exception(
                        "unhandled error", extra={"path": scope["path"], "method": "POST"}
                    )
                    answer = INTERNAL
            status = answer.status
            start: HTTPResponseStartEvent = {
                "type": "http.response.start",
                "status": answer.status,
                "headers": [_JSON, (b"content-length", b"%d" % len(answer.body))],
            }
            await send(start)
            await send({"type": "http.response.body", "body": answer.body, "more_body": False})
        finally:
            if self._metrics is not None:
                self._metrics.in_progress.dec()
                self._metrics.observe(status, time.perf_counter() - started)


class _DeliveryMetrics:
    """The Prometheus middleware's series for the delivery route, children cached per status."""

    def __init__(self, config: PrometheusConfig) -> None:
        self.metrics = PrometheusMiddleware(app=_unused, config=config)  # its shared metrics
        self.app_name = config.app_name
        self.in_progress = self._child("requests_in_progress", 200)  # as the middleware labels it
        self._by_status: dict[int, tuple[Any, Any, Any]] = {}

    def _labels(self, status: int) -> dict[str, str | int | float]:
        # The middleware's label order: the series are created with these names on first use.
        return {
            "method": "POST",
            "path": DELIVERY_TEMPLATE,
            "status_code": status,
            "app_name": self.app_name,
        }

    def _child(self, metric: str, status: int) -> Any:
        labels = self._labels(status)
        return getattr(self.metrics, metric)(labels).labels(*labels.values())

    def observe(self, status: int, seconds: float) -> None:
        """Count one answered delivery and its duration (5xx also as an error)."""
        children = self._by_status.get(status)
        if children is None:
            children = (
                self._child("request_count", status),
                self._child("request_time", status),
                self._child("requests_error_count", status) if status >= 500 else None,
            )
            self._by_status[status] = children
        count, duration, error = children
        count.inc()
        duration.observe(seconds)
        if error is not None:
            error.inc()


async def _unused(scope: Scope, receive: Receive, send: Send) -> None:
    raise RuntimeError("only the middleware's metrics are used")


async def _body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body; stops reading past `limit` bytes; None if the client left."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if size > limit or not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)
