"""Inside a worker process: the loop that runs extension code under the lock-down.

This module runs in the forked, locked-down child (the parent's side of the same worker is
`worker_handle.py`). It reaches out only over its socket.

A worker serves one invocation at a time, in the order the parent sends them. Its
capabilities are proxies: `secrets.get` and `ctx.http` ask the parent and block for the
answer (the parent runs the manifest's permission checks and records any denial);
`Log` and annotations are sent one-way; the records `ingest` takes are held and sent with
the invocation's `Done` (ahead of it in `Records` past `protocol.RECORD_BYTES`). `ingest`
is checked here too, only so the code gets its `PermissionDenied` at once: the parent checks
again and drops any record its own check refuses, so a worker that skips this check gains
nothing.
"""

from __future__ import annotations

import asyncio
import gc
import socket
import sys
import time
import traceback
from collections import OrderedDict, deque
from collections.abc import Coroutine, Mapping
from typing import Any, TypeVar

import httpx
import msgspec

from contracts.installations import InstallationSnapshot, VersionRef
from runtime.entrypoints import EntryNotFound, run_entry
from runtime.interface import Invocation
from runtime.isolated import lockdown, protocol
from runtime.loader import LoadedBundle, register, unregister
from runtime.pages import MalformedPage
from sdk.context import bound
from sdk.errors import PermissionDenied

T = TypeVar("T")
BUNDLES_KEPT = 16
READ_BUFFER = 256 * 1024
FLUSH_BYTES = 256 * 1024
FLUSH_S = 0.05


class Channel:
    """Blocking frames over the worker's end of its socket.

    Reads are buffered: one read takes every frame the parent has sent. Frames to the parent
    are held and written together just before the worker would block reading (its next
    invocation, or the answer to a capability request), so a batch of queued invocations
    costs one write; they are also flushed past `FLUSH_BYTES` or `FLUSH_S`, so a long
    invocation's lines keep flowing.
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()
        self.held: list[bytes] = []
        self.held_bytes = 0
        self.held_since = 0.0
        self.pending: deque[protocol.Invoke] = deque()  # queued while a call awaited its answer
        # The running invocation's records, encoded, for its `Done` (see `hold_record`).
        self.records: list[msgspec.Raw] = []
        self.record_bytes = 0

    def hold_record(self, record: protocol.Ingest) -> None:
        """Keep a record for the invocation's `Done`; past `RECORD_BYTES` held, the ones
        held go ahead in a `Records` frame (in order: the pipe is ordered)."""
        raw = msgspec.Raw(protocol.encode(record))
        if self.records and self.record_bytes + len(raw) > protocol.RECORD_BYTES:
            self.post(protocol.Records(records=self.take_records()))  # type: ignore[arg-type]
        self.records.append(raw)
        self.record_bytes += len(raw)

    def take_records(self) -> list[msgspec.Raw]:
        """The records held, handed over (for a `Done` or a `Records` frame)."""
        records, self.records, self.record_bytes = self.records, [], 0
        return records

    def post(self, message: protocol.Frame) -> None:
        """Queue a frame for the parent."""
        if not self.held:
            self.held_since = time.monotonic()
        data = protocol.frame(message)
        self.held.append(data)
        self.held_bytes += len(data)
        if self.held_bytes > FLUSH_BYTES or time.monotonic() - self.held_since > FLUSH_S:
            self.flush()

    def flush(self) -> None:
        if self.held:
            self.sock.sendall(b"".join(self.held))
            self.held.clear()
            self.held_bytes = 0

    def receive(self) -> protocol.ToWorker | None:
        """The next frame (flushing held frames before blocking); None once the parent left."""
        header = protocol.HEADER.size
        while True:
            if len(self.buffer) >= header:
                (size,) = protocol.HEADER.unpack_from(self.buffer)
                if len(self.buffer) >= header + size:
                    body = bytes(self.buffer[header : header + size])
                    del self.buffer[: header + size]
                    return protocol.to_worker.decode(body)
            self.flush()
            chunk = self.sock.recv(READ_BUFFER)
            if not chunk:
                return None
            self.buffer += chunk

    def next_invoke(self) -> protocol.ToWorker | None:
        """The next invocation: one queued during a capability call first, else from the socket."""
        return self.pending.popleft() if self.pending else self.receive()

    def call(self, request: protocol.Frame) -> protocol.ToWorker:
        """Send a capability request and wait for its answer; invocations sent meanwhile wait."""
        self.post(request)
        while True:
            answer = self.receive()
            if answer is None:
                raise SystemExit(0)  # the parent is gone: nothing left to do
            if not isinstance(answer, protocol.Invoke):
                return answer
            self.pending.append(answer)


class ProxyCapabilities:
    """`sdk.context.Capabilities` answered by the parent."""

    def __init__(
        self,
        channel: Channel,
        invoke: protocol.Invoke,
        invocation: Invocation,
        bundle: LoadedBundle,
    ) -> None:
        self.channel = channel
        self.invocation = invocation
        self.manifest = bundle.manifest
        self.writable = bundle.manifest.writable_entities()  # checked once per record
        self._settings = invoke.settings
        self.records_left = invoke.max_records

    @property
    def settings(self) -> Mapping[str, Any]:
        return self._settings

    def log(self, level: Any, message: str, attrs: dict[str, Any]) -> None:
        clean = msgspec.to_builtins(attrs or {}, str_keys=True, enc_hook=repr)
        self.channel.post(protocol.LogLine(level=level, message=str(message), attrs=clean))

    def annotate(self, **fields: str | None) -> None:
        self.channel.post(protocol.Annotate(fields=fields))

    def secret(self, name: str) -> str | None:
        answer = self.channel.call(protocol.SecretGet(name=name))
        if not isinstance(answer, protocol.SecretValue):
            raise RuntimeError("unexpected answer to a secret request")
        if answer.denied is not None:
            raise PermissionDenied(
                answer.denied.capability, answer.denied.target, answer.denied.reason
            )
        if answer.error is not None:
            raise RuntimeError(answer.error)
        return answer.value

    def ingest(
        self, canonical_type: str, payload: dict[str, Any], stream: str | None, key: str
    ) -> dict[str, Any]:
        if canonical_type not in self.writable:
            self._refuse(canonical_type, "entity type is not declared writable")
        if canonical_type in self.invocation.installation.write_protected_entities:
            self._refuse(canonical_type, "entity type is write-protected in this workspace")
        if self.records_left <= 0:  # the parent's scope denies it too (and writes the line)
            self.channel.hold_record(
                protocol.Ingest(canonical_type=canonical_type, payload={}, stream=None, key="")
            )
            raise PermissionDenied("ingest", canonical_type, "record limit reached")
        self.records_left -= 1
        payload = msgspec.to_builtins(payload, str_keys=True)
        self.channel.hold_record(
            protocol.Ingest(canonical_type=canonical_type, payload=payload, stream=stream, key=key)
        )
        status = "accepted" if self.invocation.mode == "active" else "observed"
        return {"idempotency_key": key, "status": status}

    def _refuse(self, canonical_type: str, reason: str) -> None:
        # The parent records the denial line when it sees the record; tell it, then raise.
        self.channel.hold_record(
            protocol.Ingest(canonical_type=canonical_type, payload={}, stream=None, key="")
        )
        raise PermissionDenied("ingest", canonical_type, reason)

    async def request(self, method: str, url: str, **options: Any) -> httpx.Response:
        options = msgspec.to_builtins(options, str_keys=True)
        answer = self.channel.call(protocol.HttpCall(method=method, url=url, options=options))
        if not isinstance(answer, protocol.HttpAnswer):
            raise RuntimeError("unexpected answer to an HTTP request")
        if answer.denied is not None:
            raise PermissionDenied(
                answer.denied.capability, answer.denied.target, answer.denied.reason
            )
        if answer.error is not None:
            raise httpx.TransportError(answer.error)
        return httpx.Response(
            answer.status,
            headers=answer.headers,
            content=answer.body,
            request=httpx.Request(method, url),
        )


class Worker:
    """The serving loop of one locked-down worker process."""

    def __init__(self, channel: Channel, loop: asyncio.AbstractEventLoop, max_frame: int) -> None:
        self.channel = channel
        self.loop = loop
        self.max_frame = max_frame
        self.bundles: OrderedDict[str, LoadedBundle] = OrderedDict()
        self.versions: dict[str, VersionRef] = {}
        self.installation: InstallationSnapshot | None = None

    def serve(self) -> None:
        """Run invocations until the parent closes the socket."""
        while True:
            message = self.channel.next_invoke()
            if message is None:
                return
            if isinstance(message, protocol.Invoke):
                done = self.run(message)
                done.records = self.channel.take_records()  # type: ignore[assignment]
                self.channel.post(self._finish(done))

    def _invocation(self, invoke: protocol.Invoke) -> Invocation:
        if invoke.installation is not None:
            self.installation = invoke.installation
        if invoke.version is not None:
            self.versions[invoke.version.version_id] = invoke.version
        version = invoke.version or next(
            v for v in self.versions.values() if v.digest == invoke.digest
        )
        assert self.installation is not None, "the parent sends the installation first"
        return Invocation(
            invocation_id=invoke.invocation_id,
            installation=self.installation,
            version=version,
            mode=invoke.mode,
            kind=invoke.kind,
            script_type=invoke.script_type,
            entry=invoke.entry,
            request=invoke.request,
            cursor=invoke.cursor,
            source_id=invoke.source_id,
            session_id=invoke.session_id,
            actor=invoke.actor,
            event=invoke.event,
            input=invoke.input,
        )

    def _bundle(self, invoke: protocol.Invoke) -> LoadedBundle:
        digest = invoke.digest
        if invoke.bundle is not None and digest not in self.bundles:
            given = invoke.bundle
            self.bundles[digest] = register(digest, given.files, given.manifest)
            while len(self.bundles) > BUNDLES_KEPT:
                unregister(self.bundles.popitem(last=False)[1])
        self.bundles.move_to_end(digest)
        return self.bundles[digest]

    def run(self, invoke: protocol.Invoke) -> protocol.Done:
        """One invocation, every failure mapped to an outcome as the in-process runtime does."""
        try:
            invocation = self._invocation(invoke)
            bundle = self._bundle(invoke)
            capabilities = ProxyCapabilities(self.channel, invoke, invocation, bundle)
            with bound(capabilities):
                outcome = drive(
                    self.loop,
                    run_entry(bundle, invoke.path, capabilities, invocation),  # type: ignore[arg-type]
                )
        except PermissionDenied as denied:
            return protocol.Done(outcome="denied", message=str(denied))
        except MalformedPage as error:
            message = f"malformed page: {error}"
            return protocol.Done(outcome="error", message=message, line=message)
        except EntryNotFound as error:
            return protocol.Done(outcome="not_found", message=str(error), line=str(error))
        except BaseException as error:  # the extension's bug (or exit): report it, keep serving
            message = f"{type(error).__name__}: {error}"
            return protocol.Done(
                outcome="error",
                message=message,
                line=f"unhandled error: {message}",
                traceback=traceback.format_exc(),
            )
        page = outcome.page
        return protocol.Done(
            outcome="ok",
            response=outcome.response,
            next_cursor=page.next_cursor if page else None,
            has_more=page.has_more if page else False,
        )

    def _finish(self, done: protocol.Done) -> protocol.Done:
        """The Done itself, or an error when the response cannot travel (type or size; its
        records are then dropped: a failed invocation's records never count)."""
        try:
            size = len(protocol.frame(done))
        except (TypeError, ValueError, OverflowError) as error:
            message = f"response is not serialisable: {error}"
            return protocol.Done(outcome="error", message=message, line=message)
        if size > self.max_frame:
            message = f"response of {size} bytes exceeds the limit of {self.max_frame}"
            return protocol.Done(outcome="error", message=message, line=message)
        return done


def drive(loop: asyncio.AbstractEventLoop, coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion: directly while it awaits nothing, else on the loop.

    Most handlers never suspend here (capability calls block on the socket), so stepping the
    coroutine by hand saves an event-loop turn per invocation; one that awaits a real
    future (asyncio.sleep, a gather) continues on the loop from where it stopped.
    """
    # The code may create futures, tasks or timers while stepped by hand: it must find the loop.
    asyncio.events._set_running_loop(loop)
    try:
        yielded = coroutine.send(None)
    except StopIteration as finished:
        return finished.value  # type: ignore[no-any-return]
    finally:
        asyncio.events._set_running_loop(None)
    return loop.run_until_complete(_resume(coroutine, yielded))


async def _resume(coroutine: Coroutine[Any, Any, T], yielded: Any) -> T:
    while True:
        if yielded is None:
            await asyncio.sleep(0)  # a bare yield: give the loop one turn
        else:
            yielded._asyncio_future_blocking = False  # as a Task does before it waits
            try:
                await yielded
            except BaseException:  # the coroutine reads the outcome from the future itself
                pass
        try:
            yielded = coroutine.send(None)
        except StopIteration as finished:
            return finished.value  # type: ignore[no-any-return]


def main(fd: int, root: str, limits: lockdown.Limits, max_frame: int, problem: str | None) -> None:
    """Entry of a freshly forked worker: lock down, announce, serve; never returns.

    `root` is the empty host directory its private view is mounted on; `problem` is why the
    zygote could not give it namespaces (then it reports an incomplete lock-down).
    """
    lockdown.die_with_parent()
    lockdown.close_inherited_fds(keep=fd)
    report = lockdown.lock_down(root, limits, problem)
    lockdown.die_with_parent()  # credentials changed above, which clears the death signal
    sys.dont_write_bytecode = True  # the library paths are read-only
    loop = asyncio.new_event_loop()  # before seccomp: its self-pipe is a socket pair
    asyncio.set_event_loop(loop)
    lockdown.filter_syscalls(report)
    channel = Channel(socket.socket(fileno=fd))
    channel.post(protocol.Ready(report=report))
    channel.flush()
    gc.freeze()  # what the lock-down made stays too (the zygote froze everything before)
    try:
        Worker(channel, loop, max_frame).serve()
    finally:
        import os

        os._exit(0)
