"""Messages a consumer could not decode or declared invalid, parked with their origin."""

from __future__ import annotations

from contracts.base import Message


class DeadLetter(Message, frozen=True, kw_only=True):
    """An undecodable message, copied verbatim so it can be inspected and replayed."""

    source_topic: str
    partition: int
    offset: int
    consumer_group: str
    key: bytes | None = None
    value: bytes
    error: str
    at: float
