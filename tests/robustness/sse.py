"""Calling a live tail (SSE) in a sweep: its headers and first event, then closed."""

from __future__ import annotations

from typing import Any

import requests


class FirstEvent(requests.Session):
    """A live tail (SSE) never ends by itself: take its headers and its first event, then
    close it (read whole, each valid request would wait out the 30 s timeout)."""

    def request(self, method: str, url: str | bytes, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        kwargs["stream"] = True
        response = super().request(method, url, *args, **kwargs)
        if not response.headers.get("content-type", "").startswith("text/event-stream"):
            _ = response.content  # any other answer is read whole, as usual
            return response
        first = b""
        try:
            for chunk in response.iter_content(chunk_size=None):
                first += chunk
                if b"\n\n" in first.replace(b"\r\n", b"\n"):  # an event ends with a blank line
                    break
        finally:
            response.close()
        response._content = first
        return response


def session_for(operation: Any) -> FirstEvent | None:
    """The session to call `operation` with: for a live tail, one that reads its first event."""
    return FirstEvent() if operation.path.endswith("/stream") else None
