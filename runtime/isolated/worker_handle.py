"""The parent's handle on one worker process: its socket, its queue of invocations, its deadline.

This module runs in the service; the code inside the worker is `worker_main.py`.

Frames to the worker are batched (one write per loop turn); frames from it are read by one
reader task that hands each to the invocation at the head of the queue. The parent arms a
wall-clock deadline for the head invocation and kills the worker when it passes (CPU-bound
code included); a killed or crashed worker fails its running invocation and hands the ones
queued behind it back to be dispatched again. A killed worker is never reused.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections import deque
from typing import TYPE_CHECKING, Protocol

import msgspec

from runtime.isolated import protocol
from runtime.isolated.lockdown import Report

if TYPE_CHECKING:
    from runtime.isolated.pool import WorkerPool

log = logging.getLogger(__name__)


class WorkerGone(RuntimeError):
    """The worker's socket closed or it broke the protocol."""


class Job(Protocol):
    """One invocation dispatched to a worker (the runtime's side of the conversation)."""

    def invoke_frame(self, worker: WorkerHandle) -> protocol.Invoke:
        """The `Invoke` for this worker (what it must be sent depends on what it holds)."""
        ...

    async def handle(self, worker: WorkerHandle, frame: protocol.FromWorker) -> bool:
        """Take one frame of this invocation; True once it was the `Done`."""
        ...

    def expired(self) -> None:
        """The time limit passed while it ran (its worker is being killed)."""
        ...

    def failed(self, error: WorkerGone) -> None:
        """Its worker died while it ran."""
        ...

    def requeue(self) -> None:
        """Its worker died before it started: dispatch it again."""
        ...


class WorkerHandle:
    """The parent's handle on one worker: its socket, tenant, queue and what it holds."""

    def __init__(
        self,
        pool: WorkerPool,
        pid: int,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.pool = pool
        self.pid = pid
        self.reader = reader
        self.writer = writer
        self.tenant: str | None = None
        # What the worker holds already (sent once): bundles, versions, the installation.
        self.digests: set[str] = set()
        self.versions: set[str] = set()
        self.installation: tuple[object, ...] | None = None
        self.queue: deque[Job] = deque()
        self.served = 0
        self.healthy = True
        self.report: Report | None = None
        self._outgoing: list[bytes] = []
        self._timer: asyncio.TimerHandle | None = None
        self._reading: asyncio.Task[None] | None = None
        try:
            self.pidfd: int | None = os.pidfd_open(pid)
        except OSError:
            self.pidfd = None

    # -- wire -----------------------------------------------------------------------------

    def answer(self, message: protocol.Frame) -> None:
        """Write a capability answer now (the worker is blocked waiting for it)."""
        self.writer.write(protocol.frame(message))

    async def receive(self) -> protocol.FromWorker:
        """The next frame; WorkerGone on EOF, an oversized frame or a malformed one."""
        try:
            header = await self.reader.readexactly(protocol.HEADER.size)
            (size,) = protocol.HEADER.unpack(header)
            if size > self.pool.max_frame:
                raise WorkerGone(
                    f"worker sent a frame of {size} bytes (limit {self.pool.max_frame})"
                )
            return protocol.from_worker.decode(await self.reader.readexactly(size))
        except (asyncio.IncompleteReadError, ConnectionError) as error:
            raise WorkerGone("worker exited during the invocation") from error
        except msgspec.DecodeError as error:
            raise WorkerGone(f"worker sent a malformed frame: {error}") from error

    # -- queue ----------------------------------------------------------------------------

    def dispatch(self, job: Job) -> None:
        """Queue `job`; its `Invoke` leaves with the others of this loop turn."""
        if not self._outgoing:
            asyncio.get_running_loop().call_soon(self._flush)
        self._outgoing.append(protocol.frame(job.invoke_frame(self)))
        self.queue.append(job)
        if len(self.queue) == 1:
            self._arm()

    def listen(self) -> None:
        """Start routing its frames (from birth: a worker that dies idle is noticed idle)."""
        self._reading = asyncio.get_running_loop().create_task(self._read())

    def _flush(self) -> None:
        if self._outgoing and self.healthy:
            self.writer.write(b"".join(self._outgoing))
        self._outgoing.clear()

    def _arm(self) -> None:
        self._timer = asyncio.get_running_loop().call_later(self.pool.time_limit_s, self._expire)

    def _expire(self) -> None:
        self._timer = None
        if self.queue:
            self.queue.popleft().expired()
        self.pool.discard(self)

    async def _read(self) -> None:
        """Route every frame to the invocation at the head of the queue, in order."""
        try:
            while True:
                frame = await self.receive()
                if not self.queue:
                    raise WorkerGone(f"worker sent {type(frame).__name__} with nothing queued")
                if await self.queue[0].handle(self, frame):
                    self.queue.popleft()
                    self.served += 1
                    if self._timer is not None:
                        self._timer.cancel()
                        self._timer = None
                    if self.queue:
                        self._arm()
                    self.pool.finished(self)
        except WorkerGone as gone:
            if self.healthy and self.queue:
                self.queue.popleft().failed(gone)
            self.pool.discard(self)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # a bug on our side: never leave callers waiting
            log.exception("runtime worker conversation failed")
            if self.healthy and self.queue:
                self.queue.popleft().failed(WorkerGone(f"runtime error: {error!r}"))
            self.pool.discard(self)

    def kill(self) -> None:
        """SIGKILL the worker (through its pidfd: never a recycled pid); requeue waiting jobs."""
        if not self.healthy:
            return
        self.healthy = False
        if self._timer is not None:
            self._timer.cancel()
        try:
            if self.pidfd is not None:
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
            else:
                os.kill(self.pid, signal.SIGKILL)
        except (ProcessLookupError, OSError):
            pass
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None
        self.writer.close()
        if self._reading is not None and self._reading is not asyncio.current_task():
            self._reading.cancel()
        queued, self.queue = list(self.queue), deque()
        for job in queued:  # the running one was failed by whoever killed it
            job.requeue()
