"""What ingress answers a provider: a status and JSON bytes, prebuilt where they never vary.

The delivery path never builds a Litestar response: the fast path (`fast_path.py`) sends these
bytes as they are. Error bodies keep the house shape `{"error": {"code", "message", ...}}`.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from services.base.errors import error_body


@dataclass(frozen=True)
class Answer:
    """What to answer the provider: status and an already-encoded JSON body."""

    status: int
    body: bytes


def error_answer(status: int, code: str, message: str, **extra: str) -> Answer:
    """An error in the house shape, encoded once."""
    body = error_body(code, message)
    body["error"].update(extra)
    return Answer(status, msgspec.json.encode(body))


NOT_FOUND = error_answer(404, "not_found", "no webhook endpoint at this URL")
# Unknown while the snapshot view is still loading (a replica that just started): the
# provider must retry, not conclude the URL is gone (some disable an endpoint on 404s).
LOADING = error_answer(503, "unavailable", "webhook endpoints are still loading; retry later")
GONE = error_answer(410, "gone", "the installation behind this URL was uninstalled")
MALFORMED = error_answer(400, "malformed_payload", "the body is not valid JSON")
HELD = Answer(202, b'{"status":"held"}')
# Litestar's own answer past its request_max_body_size, which the fast path keeps.
TOO_LARGE = Answer(413, b'{"error":{"code":"error","message":"Request Entity Too Large"}}')
INTERNAL = Answer(500, b'{"error":{"code":"internal_error","message":"internal error"}}')


def unavailable(dependency: str) -> Answer:
    """503: Kafka or Redis did not answer; nothing was promised, the provider retries."""
    return error_answer(503, "unavailable", f"{dependency} unavailable; retry later")


def rejected(reason: str) -> Answer:
    """401 naming why the delivery did not authenticate; the handler never ran."""
    return error_answer(
        401, "invalid_signature", "the delivery did not authenticate", reason=reason
    )


def handler_failed(message: str) -> bytes:
    """The body of a 500 when the connector's handler failed (the raw delivery is kept)."""
    return error_answer(500, "handler_failed", message).body


def mark_duplicates(body: object, keys: set[str]) -> object:
    """`body` with each `ingest.canonical` result of an already-ingested key saying `duplicate`.

    The handler ran before dedupe, so its results say `accepted`; a result is the exact
    `{"idempotency_key", "status"}` object the SDK returns, wherever the handler put it.
    """
    if isinstance(body, list):
        return [mark_duplicates(item, keys) for item in body]
    if not isinstance(body, dict):
        return body
    if body.keys() == {"idempotency_key", "status"} and body["idempotency_key"] in keys:
        return {**body, "status": "duplicate"}
    return {name: mark_duplicates(value, keys) for name, value in body.items()}
