"""The zygote: a clean, minimal process that forks locked-down workers on request.

The pool starts it with `python -I -m runtime.isolated.zygote CONFIG` and an empty
environment, so it holds nothing of the service: no environment variables, no Redis or
Kafka connections, no keys, no file descriptors but its control socket. It imports only
the worker's code (the SDK, the entry points, msgspec, httpx), so each fork starts warm.

Control protocol: the parent sends one byte with a socket attached (SCM_RIGHTS); the zygote
forks a worker into its own namespaces (`namespaces.fork_worker`) that serves on that socket
and answers the worker's host pid (4 bytes). A worker's files live in a tmpfs of its own
mount namespace, which the kernel drops with the worker: the zygote never walks a tree a
worker left. It reaps its children in its main loop (no signal handler runs Python code), and
dies with its parent (PR_SET_PDEATHSIG); it exits when the control socket closes.
"""

from __future__ import annotations

import contextlib
import gc
import os
import select
import signal
import socket
import struct
import sys

import msgspec

from runtime.isolated import lockdown, namespaces, worker_main
from runtime.isolated.scratch import remove_tree

PID = struct.Struct("!i")
REAP_EVERY_S = 1.0
# Host ids the workers run as: no file of the host belongs to them. One per worker, so no
# two workers share a process count (RLIMIT_NPROC is counted per user).
UID_BASE = 1_500_000_000
UID_SPAN = 1 << 24


class ZygoteConfig(msgspec.Struct, frozen=True, kw_only=True):
    """What the pool tells the zygote on its command line."""

    control_fd: int
    parent_pid: int
    scratch: str
    limits: lockdown.Limits
    max_frame: int


def reap() -> None:
    """Collect every exited child (the helpers, each once its worker exited)."""
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def main() -> None:
    """Serve spawn requests until the parent goes away."""
    config = msgspec.json.decode(sys.argv[1], type=ZygoteConfig)
    lockdown.die_with_parent()
    if os.getppid() != config.parent_pid:
        sys.exit(0)  # the parent died before the death signal was armed
    lockdown.exposure()  # computed once here, inherited by every worker
    # Likewise; a failure here is not the zygote's: each worker then tries again and reports
    # it as a problem of its lock-down (refused unless incomplete isolation is allowed).
    with contextlib.suppress(Exception):
        lockdown.compiled_filter()
    # Everything imported so far lives as long as the worker: out of the collector's sight, a
    # full collection in a worker scans what the worker made, not the platform (tens of ms).
    gc.freeze()
    control = socket.socket(fileno=config.control_fd)
    counter = 0
    while True:
        ready, _, _ = select.select([control], [], [], REAP_EVERY_S)
        reap()
        if not ready:
            continue
        try:
            message, fds, _flags, _address = socket.recv_fds(control, 1, 1)
        except OSError:
            break
        if not message:
            break
        if not fds:
            continue
        counter += 1
        try:
            pid, problem = namespaces.fork_worker(UID_BASE + counter % UID_SPAN)
        except OSError:
            pid, problem = -1, None  # the pool reads -1 as a failed spawn
        if pid == 0:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            control.close()
            worker_main.main(fds[0], config.scratch, config.limits, config.max_frame, problem)
            os._exit(0)
        os.close(fds[0])
        control.sendall(PID.pack(pid))
    remove_tree(config.scratch)  # the workers die with us (their death signal)


if __name__ == "__main__":
    main()
