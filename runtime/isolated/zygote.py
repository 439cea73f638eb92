"""The zygote: a clean, minimal process that forks locked-down workers on request.

The pool starts it with `python -I -m runtime.isolated.zygote CONFIG` and an empty
environment, so it holds nothing of the service: no environment variables, no Redis or
Kafka connections, no keys, no file descriptors but its control socket. It imports only
the worker's code (the SDK, the entry points, msgspec, httpx), so each fork starts warm.

Control protocol: the parent sends one byte with a socket attached (SCM_RIGHTS); the zygote
forks a worker that serves on that socket and answers the worker's pid (4 bytes). It reaps
its children and removes their scratch dirs. It dies with its parent (PR_SET_PDEATHSIG) and
exits when the control socket closes.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import struct
import sys

import msgspec

from runtime.isolated import lockdown, worker_main

PID = struct.Struct("!i")


class ZygoteConfig(msgspec.Struct, frozen=True, kw_only=True):
    """What the pool tells the zygote on its command line."""

    control_fd: int
    parent_pid: int
    scratch: str
    limits: lockdown.Limits
    max_frame: int


def main() -> None:
    """Serve spawn requests until the parent goes away."""
    config = msgspec.json.decode(sys.argv[1], type=ZygoteConfig)
    lockdown.die_with_parent()
    if os.getppid() != config.parent_pid:
        sys.exit(0)  # the parent died before the death signal was armed
    lockdown.readable_paths()  # computed once here, inherited by every worker
    control = socket.socket(fileno=config.control_fd)
    children: dict[int, str] = {}

    def reap(_signum: int, _frame: object) -> None:
        while True:
            try:
                pid, _status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            shutil.rmtree(children.pop(pid, ""), ignore_errors=True)

    signal.signal(signal.SIGCHLD, reap)
    counter = 0
    while True:
        try:
            message, fds, _flags, _address = socket.recv_fds(control, 1, 1)
        except OSError:
            break
        if not message:
            break
        if not fds:
            continue
        counter += 1
        scratch = os.path.join(config.scratch, f"w{os.getpid()}-{counter}")
        os.makedirs(scratch, mode=0o700, exist_ok=True)
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            control.close()
            worker_main.main(fds[0], scratch, config.limits, config.max_frame)
            os._exit(0)
        children[pid] = scratch
        os.close(fds[0])
        control.sendall(PID.pack(pid))
    for pid in list(children):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    shutil.rmtree(config.scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
