"""Warm, locked-down worker processes, each bound to one tenant until it is retired.

The pool owns a zygote (see `zygote.py`) and asks it for workers. A worker fresh from the
zygote belongs to no tenant; the first invocation binds it to that invocation's tenant (the
runtime uses tenant and installation: stricter than one tenant, so two extensions of
one tenant do not share module state either) and it only ever serves that tenant again.
When a tenant needs a worker and the pool is full, an idle worker of another tenant is
retired (killed) and a fresh one takes its slot: module state never crosses tenants. A
worker that timed out, crashed or misbehaved on the wire is killed, never reused. One spare
fresh worker is kept forked ahead so binding a new tenant costs no fork on the request path.

A worker is refused (and the pool fails to start) when its lock-down report is incomplete.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections import deque

import msgspec

from runtime.isolated import protocol
from runtime.isolated.lockdown import Limits, Report
from runtime.isolated.zygote import PID, ZygoteConfig

log = logging.getLogger(__name__)
READY_TIMEOUT_S = 10.0


class IsolationUnavailable(RuntimeError):
    """Workers cannot be locked down on this host (the message says which layer failed)."""


class WorkerGone(RuntimeError):
    """The worker's socket closed or it broke the protocol."""


class WorkerProcess:
    """The parent's handle on one worker: its socket, its tenant and what it has loaded."""

    def __init__(
        self, pid: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, max_frame: int
    ) -> None:
        self.pid = pid
        self.reader = reader
        self.writer = writer
        self.max_frame = max_frame
        self.tenant: str | None = None
        # What the worker holds already (sent once): bundles, versions, the installation.
        self.digests: set[str] = set()
        self.versions: set[str] = set()
        self.installation: tuple[object, ...] | None = None
        self.served = 0
        self.healthy = True
        self.report: Report | None = None
        try:
            self.pidfd: int | None = os.pidfd_open(pid)
        except OSError:
            self.pidfd = None

    def send(self, message: protocol.Frame) -> None:
        """Queue one frame (written by the transport without awaiting)."""
        self.writer.write(protocol.frame(message))

    async def receive(self) -> protocol.FromWorker:
        """The next frame; WorkerGone on EOF, an oversized frame or a malformed one."""
        try:
            header = await self.reader.readexactly(protocol.HEADER.size)
            (size,) = protocol.HEADER.unpack(header)
            if size > self.max_frame:
                raise WorkerGone(f"worker sent a frame of {size} bytes (limit {self.max_frame})")
            return protocol.from_worker.decode(await self.reader.readexactly(size))
        except (asyncio.IncompleteReadError, ConnectionError) as error:
            raise WorkerGone("worker exited during the invocation") from error
        except msgspec.DecodeError as error:
            raise WorkerGone(f"worker sent a malformed frame: {error}") from error

    def kill(self) -> None:
        """SIGKILL the worker (through its pidfd: never a recycled pid) and drop the socket."""
        self.healthy = False
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


class WorkerPool:
    """At most `size` workers; `acquire(tenant)` / `release(worker)`."""

    def __init__(
        self,
        *,
        size: int = 4,
        limits: Limits | None = None,
        max_frame: int = 4 * 1024 * 1024,
        max_invocations: int = 100_000,
    ) -> None:
        self.size = max(1, size)
        self.limits = limits or Limits()
        self.max_frame = max_frame
        self.max_invocations = max_invocations
        self.idle: dict[str, list[WorkerProcess]] = {}
        self.fresh: list[WorkerProcess] = []
        self.count = 0  # workers alive or being forked
        self.waiters: deque[asyncio.Future[None]] = deque()
        self.zygote: subprocess.Popen[bytes] | None = None
        self.control: socket.socket | None = None
        self.spawn_lock = asyncio.Lock()
        self.scratch = ""
        self.report: Report | None = None
        self.retired = 0
        self._topping_up: asyncio.Task[None] | None = None

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> Report:
        """Start the zygote and one worker; IsolationUnavailable if it is not fully locked."""
        self._launch_zygote()
        try:
            first = await self._spawn()
        except Exception as error:
            await self.close()
            raise IsolationUnavailable(f"no worker could start: {error}") from error
        assert first.report is not None
        self.report = first.report
        if not first.report.complete:
            first.kill()
            await self.close()
            problems = "; ".join(first.report.problems) or "incomplete lock-down"
            raise IsolationUnavailable(problems)
        self.fresh.append(first)
        self.count = 1
        return first.report

    def _launch_zygote(self) -> None:
        self.scratch = tempfile.mkdtemp(prefix="backfill-workers-")
        os.chmod(self.scratch, 0o711)
        control, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        config = ZygoteConfig(
            control_fd=child.fileno(),
            parent_pid=os.getpid(),
            scratch=self.scratch,
            limits=self.limits,
            max_frame=self.max_frame,
        )
        # An empty environment and only the control socket: the zygote (and every worker it
        # forks) inherits nothing of this process. `-I`: no PYTHON* variables, no user site.
        self.zygote = subprocess.Popen(
            [sys.executable, "-I", "-m", "runtime.isolated.zygote", msgspec.json.encode(config)],
            env={},
            cwd=self.scratch,
            close_fds=True,
            pass_fds=(child.fileno(),),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )
        child.close()
        control.setblocking(False)
        self.control = control

    async def close(self) -> None:
        """Kill every worker and the zygote; remove the scratch root."""
        if self._topping_up is not None:
            self._topping_up.cancel()
        for worker in [*self.fresh, *(w for ws in self.idle.values() for w in ws)]:
            worker.kill()
        self.fresh.clear()
        self.idle.clear()
        if self.control is not None:
            self.control.close()
            self.control = None
        if self.zygote is not None:
            self.zygote.kill()
            await asyncio.to_thread(self.zygote.wait)
            self.zygote = None
        if self.scratch:
            shutil.rmtree(self.scratch, ignore_errors=True)

    # -- workers --------------------------------------------------------------------------

    async def _spawn(self) -> WorkerProcess:
        """Ask the zygote for one worker and wait for its lock-down report."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        loop = asyncio.get_running_loop()
        async with self.spawn_lock:
            assert self.control is not None
            socket.send_fds(self.control, [b"s"], [theirs.fileno()])
            theirs.close()
            answer = b""
            while len(answer) < PID.size:
                chunk = await loop.sock_recv(self.control, PID.size - len(answer))
                if not chunk:
                    ours.close()
                    raise IsolationUnavailable("the zygote exited")
                answer += chunk
        (pid,) = PID.unpack(answer)
        reader, writer = await asyncio.open_unix_connection(sock=ours, limit=self.max_frame)
        worker = WorkerProcess(pid, reader, writer, self.max_frame)
        try:
            async with asyncio.timeout(READY_TIMEOUT_S):
                ready = await worker.receive()
        except (TimeoutError, WorkerGone) as error:
            worker.kill()
            raise IsolationUnavailable(f"worker {pid} did not report ready: {error}") from None
        if not isinstance(ready, protocol.Ready):
            worker.kill()
            raise IsolationUnavailable(f"worker {pid} spoke before it was ready")
        worker.report = ready.report
        if not ready.report.complete:
            worker.kill()
            raise IsolationUnavailable("; ".join(ready.report.problems) or "incomplete lock-down")
        return worker

    async def acquire(self, tenant: str) -> WorkerProcess:
        """A worker bound to `tenant` (waits while every worker is busy)."""
        while True:
            bound = self.idle.get(tenant)
            if bound:
                return bound.pop()
            if self.fresh:
                worker = self.fresh.pop()
                worker.tenant = tenant
                self._top_up()
                return worker
            if self.count < self.size:
                self.count += 1
                try:
                    worker = await self._spawn()
                except BaseException:
                    self.count -= 1
                    raise
                worker.tenant = tenant
                return worker
            if self._retire_idle_of_another_tenant():
                continue
            waiter = asyncio.get_running_loop().create_future()
            self.waiters.append(waiter)
            try:
                await waiter
            finally:
                if waiter in self.waiters:
                    self.waiters.remove(waiter)

    def release(self, worker: WorkerProcess) -> None:
        """Return a worker after an invocation; a broken or worn-out one is retired."""
        worker.served += 1
        if not worker.healthy or worker.served >= self.max_invocations:
            self.discard(worker)
            return
        assert worker.tenant is not None
        self.idle.setdefault(worker.tenant, []).append(worker)
        self._wake()

    def discard(self, worker: WorkerProcess) -> None:
        """Kill a worker and free its slot (a fresh one is forked ahead)."""
        worker.kill()
        self.count -= 1
        self.retired += 1
        self._top_up()
        self._wake()

    def _retire_idle_of_another_tenant(self) -> bool:
        for tenant, workers in self.idle.items():
            if workers:
                self.discard(workers.pop(0))
                if not workers:
                    del self.idle[tenant]
                return True
        return False

    def _wake(self) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _top_up(self) -> None:
        """Fork one spare fresh worker in the background when a slot is free."""
        if self.fresh or self.count >= self.size or self.control is None:
            return
        if self._topping_up is not None and not self._topping_up.done():
            return
        self.count += 1
        self._topping_up = asyncio.get_running_loop().create_task(self._add_spare())

    async def _add_spare(self) -> None:
        try:
            worker = await self._spawn()
        except Exception as error:
            self.count -= 1
            log.error("could not fork a spare runtime worker", extra={"error": str(error)})
            return
        self.fresh.append(worker)
        self._wake()
