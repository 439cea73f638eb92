"""Warm, locked-down worker processes, each bound to one tenant until it is retired.

The pool owns a zygote (see `zygote.py`) and asks it for workers. A worker fresh from the
zygote belongs to no tenant; the first invocation binds it to that invocation's tenant (the
runtime uses workspace and installation: stricter than one workspace, so two extensions of
one workspace do not share module state either) and it only ever serves that tenant again:
module state never crosses tenants (a draft or observation version is a tenant apart from
the active one). Who gets which worker (warm workers in LRU order, spares forked ahead, a
per-tenant share and fair queueing) is `allocation.py`.

Pipelining: a worker runs its invocations one at a time, in order, but up to `depth` of one
tenant's invocations may be queued on it, so it never idles between them and frames travel
in batches (one write per worker per loop turn). The time limit of an invocation starts
when it reaches the head of its worker's queue. A worker that times out, crashes or breaks
the protocol is killed, never reused: its running invocation fails, the ones queued behind
it (not started) are dispatched again.

A worker is refused (and the pool fails to start) when its lock-down report is incomplete.
A worker that still runs a thread of its own when an invocation ends is retired once its
queue drains (never given new work): no thread outlives its invocation on a reused worker.

The zygote is watched through its pidfd: when it exits, `ready` turns False and a new one is
launched at once (at most one launch per `RELAUNCH_S`); `ready` is True again when a worker
of the new zygote has reported its lock-down. Every wait on the zygote has a time limit
(`ZYGOTE_TIMEOUT_S`): a zygote that does not answer is killed and replaced.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import subprocess
import sys
import tempfile

import msgspec

from runtime.isolated import protocol
from runtime.isolated.allocation import Allocation
from runtime.isolated.lockdown import Limits, Report
from runtime.isolated.scratch import remove_tree
from runtime.isolated.worker_handle import WorkerGone, WorkerHandle
from runtime.isolated.zygote import PID, ZygoteConfig

log = logging.getLogger(__name__)
READY_TIMEOUT_S = 10.0
ZYGOTE_TIMEOUT_S = 5.0
# A zygote just launched first starts an interpreter and imports the worker's code: on a
# loaded machine that alone took more than ZYGOTE_TIMEOUT_S, and the service failed to start.
ZYGOTE_BOOT_S = 30.0
RELAUNCH_S = 1.0
SCRATCH_PREFIX = "backfill-workers-"


def _remove_stale_scratch() -> None:
    """Scratch roots of pools whose process died without closing (SIGKILL) are removed."""
    root = tempfile.gettempdir()
    for name in os.listdir(root):
        owner = name.removeprefix(SCRATCH_PREFIX).partition("-")[0]
        if not name.startswith(SCRATCH_PREFIX) or not owner.isdigit():
            continue
        try:
            os.kill(int(owner), 0)
        except ProcessLookupError:
            remove_tree(os.path.join(root, name))
        except PermissionError:
            continue  # alive, someone else's


class IsolationUnavailable(RuntimeError):
    """Workers cannot be locked down on this host (the message says which layer failed)."""


class WorkerPool(Allocation):
    """At most `size` workers, each running up to `depth` queued invocations of its tenant
    (who gets which worker: `allocation.py`)."""

    def __init__(
        self,
        *,
        size: int = 4,
        depth: int = 4,
        time_limit_s: float = 10.0,
        limits: Limits | None = None,
        max_frame: int = 4 * 1024 * 1024,
        max_invocations: int = 100_000,
        spares: int = 1,
        tenant_max: int | None = None,
    ) -> None:
        self.size = max(1, size)
        self.depth = max(1, depth)
        self.time_limit_s = time_limit_s
        self.limits = limits or Limits()
        self.max_frame = max_frame
        self.max_invocations = max_invocations
        self.retired = 0
        self._init_allocation(spares=spares, tenant_max=tenant_max)
        self.zygote: subprocess.Popen[bytes] | None = None
        self.control: socket.socket | None = None
        self.spawn_lock = asyncio.Lock()
        self.scratch = ""
        self.report: Report | None = None
        self.zygote_ready = False  # a worker of the current zygote reported its lock-down
        self._zygote_fd: int | None = None
        self._relaunch: asyncio.TimerHandle | None = None
        self._closing = False
        self._probing: asyncio.Task[None] | None = None

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
        self.fresh.append(first)
        self.count = 1
        return first.report

    @property
    def ready(self) -> bool:
        """A zygote runs and has forked a locked-down worker (False while one is replaced)."""
        zygote = self.zygote
        return zygote is not None and zygote.poll() is None and self.zygote_ready

    def _watch_zygote(self) -> None:
        """Notice the zygote's exit at once (its pidfd turns readable)."""
        assert self.zygote is not None
        try:
            self._zygote_fd = os.pidfd_open(self.zygote.pid)
        except OSError:
            return
        asyncio.get_running_loop().add_reader(self._zygote_fd, self._zygote_exited)

    def _unwatch_zygote(self) -> None:
        if self._zygote_fd is not None:
            asyncio.get_running_loop().remove_reader(self._zygote_fd)
            os.close(self._zygote_fd)
            self._zygote_fd = None

    def _zygote_exited(self) -> None:
        self._unwatch_zygote()
        self.zygote_ready = False
        if self._closing or self._relaunch is not None:
            return
        log.error("runtime zygote exited; starting a new one")
        self._relaunch = asyncio.get_running_loop().call_later(RELAUNCH_S, self._replace_zygote)

    def _replace_zygote(self) -> None:
        """Launch a new zygote and fork a spare from it (which makes the pool ready again)."""
        self._relaunch = None
        if self._closing or (self.zygote is not None and self.zygote.poll() is None):
            return  # closing, or a spawn already launched the new one
        self._close_zygote()
        try:
            self._launch_zygote()
        except OSError as error:
            log.error("could not start the runtime zygote", extra={"error": str(error)})
            self._relaunch = asyncio.get_running_loop().call_later(RELAUNCH_S, self._replace_zygote)
            return
        self._probing = asyncio.get_running_loop().create_task(self._probe())

    async def _probe(self) -> None:
        """Fork one worker of the new zygote: a spare if a slot is free, else retired."""
        try:
            worker = await self._spawn()
        except IsolationUnavailable as error:
            log.error("the new runtime zygote forks no worker", extra={"error": str(error)})
            return
        if self.count < self.size and not self.fresh:
            self.count += 1
            self.fresh.append(worker)
            self._wake()
        else:
            worker.kill()

    def _launch_zygote(self) -> None:
        _remove_stale_scratch()
        self.scratch = tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-")
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
        self.zygote_ready = False
        self._watch_zygote()

    async def close(self) -> None:
        """Kill every worker and the zygote; remove the scratch root."""
        self._closing = True
        if self._relaunch is not None:
            self._relaunch.cancel()
        self._cancel_spares()
        for worker in [*self.fresh, *(w for ws in self.bound.values() for w in ws)]:
            for job in list(worker.queue):
                job.failed(WorkerGone("the runtime is shutting down"))
            worker.queue.clear()
            worker.kill()
        self.fresh.clear()
        self.bound.clear()
        self.idle.clear()
        zygote = self.zygote
        self._close_zygote()
        if zygote is not None:
            await asyncio.to_thread(zygote.wait)

    def _close_zygote(self) -> None:
        """Kill the zygote and remove its scratch root; never raises."""
        self._unwatch_zygote()
        self.zygote_ready = False
        if self.control is not None:
            self.control.close()
            self.control = None
        if self.zygote is not None:
            self.zygote.kill()
            if self.zygote.poll() is not None:
                self.zygote.wait()
            self.zygote = None
        if self.scratch:
            remove_tree(self.scratch)
            self.scratch = ""

    # -- workers --------------------------------------------------------------------------

    async def _spawn(self) -> WorkerHandle:
        """Ask the zygote for one worker and wait for its lock-down report."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        loop = asyncio.get_running_loop()
        async with self.spawn_lock:
            if self.zygote is None or self.zygote.poll() is not None:
                # The zygote died (killed from outside): start another; its workers died with it.
                log.error("runtime zygote exited; starting a new one")
                self._close_zygote()
                self._launch_zygote()
            assert self.control is not None
            limit_s = ZYGOTE_TIMEOUT_S if self.zygote_ready else ZYGOTE_BOOT_S
            try:
                socket.send_fds(self.control, [b"s"], [theirs.fileno()])
                answer = b""
                async with asyncio.timeout(limit_s):
                    while len(answer) < PID.size:
                        chunk = await loop.sock_recv(self.control, PID.size - len(answer))
                        if not chunk:
                            raise ConnectionResetError("the zygote closed its control socket")
                        answer += chunk
                if PID.unpack(answer)[0] <= 0:
                    raise ConnectionResetError("the zygote could not fork a worker")
            except (OSError, TimeoutError) as error:
                ours.close()
                reason = str(error) or f"no answer within {limit_s:g}s"
                self._close_zygote()  # a zygote that does not answer is replaced
                self._zygote_exited()
                raise IsolationUnavailable(f"the zygote is gone: {reason}") from None
            finally:
                theirs.close()
        (pid,) = PID.unpack(answer)
        reader, writer = await asyncio.open_unix_connection(sock=ours, limit=self.max_frame)
        worker = WorkerHandle(self, pid, reader, writer)
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
        self.zygote_ready = True
        worker.listen()
        return worker

    def _open(self) -> bool:
        return not self._closing and self.control is not None

    def _spare_failed(self, error: Exception) -> None:
        log.error("could not fork a spare runtime worker", extra={"error": str(error)})
