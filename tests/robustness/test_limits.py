"""Bodies over the limit are refused without being read whole; list endpoints are bounded.

A client announces a body far over the limit and sends only its first kilobyte: the answer
(413, the error shape) must come back while the rest was never sent — so the server decided
from the announced length instead of buffering the body. Also for a chunked body that runs
past the limit: the server stops reading at the limit.
"""

from __future__ import annotations

import json
import socket

import httpx

from tests.robustness.live import Suite

HUGE = 512 * 1024 * 1024


def announce_huge_body(url: str, path: str, headers: dict[str, str]) -> tuple[int, dict]:
    """POST `path` declaring a HUGE body, send 1 KiB of it, return the status and JSON answer."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=15) as s:
        head = [f"POST {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {HUGE}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        s.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + b"x" * 1024)
        received = b""
        while b"\r\n\r\n" not in received or not _complete(received):
            chunk = s.recv(65536)  # times out (test fails) if the server waits for the body
            if not chunk:
                break
            received += chunk
    status = int(received.split(b" ", 2)[1])
    return status, json.loads(received.split(b"\r\n\r\n", 1)[1] or b"{}")


def _complete(raw: bytes) -> bool:
    head, _, body = raw.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":", 1)[1])
    return True


def test_a_webhook_announcing_a_huge_body_is_413_before_it_is_sent(live: Suite) -> None:
    hook = live.workspaces["a"].ids["hook_url"].removeprefix(live.url("ingress"))
    status, body = announce_huge_body(
        live.url("ingress"), hook, {"content-type": "application/json"}
    )
    assert status == 413
    assert body["error"]["code"]


def test_an_api_body_announcing_a_huge_size_is_413_before_it_is_sent(live: Suite) -> None:
    a = live.workspaces["a"]
    status, body = announce_huge_body(
        live.url("registry"),
        f"/v1/extensions/{a.ids['key']}/versions",
        {"content-type": "application/gzip", **a.auth()},
    )
    assert status == 413
    assert body["error"]["code"]


def test_a_chunked_webhook_body_past_the_limit_is_413(live: Suite) -> None:
    def chunks():
        for _ in range(64):
            yield b"x" * (1024 * 1024)

    response = httpx.post(live.workspaces["a"].ids["hook_url"], content=chunks(), timeout=30)
    assert response.status_code == 413
