"""The wire between the parent and a worker: length-prefixed msgpack frames of tagged Structs.

One frame is a 4-byte big-endian length and a msgpack body. The parent sends `Invoke` and
answers the worker's capability requests (`SecretGet`, `HttpCall`) with `SecretValue` and
`HttpAnswer`; the worker sends its log lines and annotations one-way (`LogLine`, `Annotate`)
and ends each invocation with `Done`, which carries the invocation's records (a webhook
handler's few records cost no frame of their own); records past `RECORD_BYTES` of one
invocation go ahead in `Records` frames, so no frame grows with the record count. The pipe
is ordered, so every line and record of an invocation reaches the parent before its `Done`,
and the parent takes records in the order the code ingested them. The parent reads at
most `max_frame` bytes per frame: a worker that sends more is killed.
"""

from __future__ import annotations

import struct
from typing import Any

import msgspec

from contracts.entities import Actor
from contracts.installations import InstallationSnapshot, VersionRef
from contracts.logs import ScriptType
from contracts.manifest import Manifest
from runtime.interface import EntryKind, HttpRequest, HttpResponse, Mode, Outcome
from runtime.isolated.lockdown import Report

HEADER = struct.Struct("!I")
# Encoded records a worker holds for its `Done` before it sends them ahead in `Records`.
RECORD_BYTES = 256 * 1024


class Frame(msgspec.Struct, tag=True, kw_only=True):
    """Every message on the wire."""


class Bundle(msgspec.Struct, frozen=True, kw_only=True):
    """A version's files, sent once to each worker that runs it (it never reads Redis)."""

    digest: str
    files: dict[str, bytes]
    manifest: Manifest


class Invoke(Frame, kw_only=True):
    """Run `path` of the invocation's version.

    `installation` and `version` travel only when the worker does not hold them yet (None:
    the ones it received last for this installation / digest); `bundle` comes along the
    first time the worker runs that digest. The installation carries no sealed secrets.
    """

    invocation_id: str
    mode: Mode
    kind: EntryKind
    script_type: ScriptType
    entry: str
    request: HttpRequest | None = None
    cursor: str | None = None
    source_id: str = ""
    session_id: str | None = None
    actor: Actor | None = None  # hooks, pages, page actions (runtime.interface.Invocation)
    event: str | None = None
    input: dict[str, Any] | None = None
    digest: str
    path: str
    settings: dict[str, Any]
    installation: InstallationSnapshot | None = None
    version: VersionRef | None = None
    bundle: Bundle | None = None
    max_records: int = 10_000  # the parent drops any record past it; the worker raises at once


class Denial(msgspec.Struct, frozen=True, kw_only=True):
    """The parent refused a capability (its denial line is already recorded)."""

    capability: str
    target: str
    reason: str


class SecretGet(Frame, kw_only=True):
    name: str


class SecretValue(Frame, kw_only=True):
    value: str | None = None
    denied: Denial | None = None
    error: str | None = None


class HttpCall(Frame, kw_only=True):
    method: str
    url: str
    options: dict[str, Any]


class HttpAnswer(Frame, kw_only=True):
    status: int = 0
    headers: list[tuple[str, str]] = []
    body: bytes = b""
    denied: Denial | None = None
    error: str | None = None


class LogLine(Frame, kw_only=True):
    level: str
    message: str
    attrs: dict[str, Any] = {}


class Annotate(Frame, kw_only=True):
    fields: dict[str, str | None]


class Ingest(msgspec.Struct, kw_only=True):
    """One record the code ingested (an empty `key`: refused in the worker already, sent so
    the parent records the denial)."""

    canonical_type: str
    payload: dict[str, Any]
    stream: str | None
    key: str


class Records(Frame, kw_only=True):
    """Records of the running invocation sent ahead of its `Done` (past `RECORD_BYTES`).

    Each item is an encoded `Ingest` (`msgspec.Raw` on the worker's side): encoded once, as
    it is ingested, which is also how the worker measures what it holds.
    """

    records: list[Ingest] = []


class Done(Frame, kw_only=True):
    """The invocation ended; `line` (with `traceback`) is the error line to record, if any."""

    outcome: Outcome
    message: str | None = None
    line: str | None = None
    traceback: str | None = None
    response: HttpResponse | None = None
    next_cursor: str | None = None
    has_more: bool = False
    records: list[Ingest] = []  # the ones not sent ahead in `Records`, in order


class Ready(Frame, kw_only=True):
    """The worker is locked down (the report says how far) and waits for work."""

    report: Report


ToWorker = Invoke | SecretValue | HttpAnswer
FromWorker = Ready | LogLine | Annotate | Records | SecretGet | HttpCall | Done

_encoder = msgspec.msgpack.Encoder()
to_worker = msgspec.msgpack.Decoder(ToWorker)
from_worker = msgspec.msgpack.Decoder(FromWorker)


def encode(message: msgspec.Struct) -> bytes:
    """The msgpack body of one message (no length prefix)."""
    return _encoder.encode(message)


def frame(message: Frame) -> bytes:
    """One frame: length prefix and body."""
    body = _encoder.encode(message)
    return HEADER.pack(len(body)) + body


def frames(messages: list[Frame]) -> bytes:
    """Several frames in one buffer (one write, one wake-up of the reader)."""
    return b"".join(frame(message) for message in messages)
