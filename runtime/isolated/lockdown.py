"""Locks a freshly forked worker down before it touches any extension code.

The zygote forked it into its own user, PID, network, mount, IPC and UTS namespaces under an
unprivileged id (`namespaces.fork_worker`). Here, in order, each step needing what the
previous one still allowed:
1. a private mount view: the host's files do not exist, only read-only mounts of the
   interpreter's library, the third-party packages and the SDK/runtime code, /dev/null,
   /dev/urandom, and a size- and inode-limited tmpfs at /tmp (the scratch quota); then the
   mapped ids and no capabilities at all;
2. resource limits: address space (memory), processes/threads, open files, file size, CPU as
   a backstop to the parent's wall-clock limit, no core dumps;
3. Landlock (defence in depth over the view): read-only library paths, /tmp writable, no TCP;
   abstract sockets and signals scoped to itself;
4. a cleared environment (HOME and TMPDIR point at /tmp);
5. seccomp allow-list (`syscalls.py`, after the caller built its event loop, whose self-pipe
   is a socket): everything not listed fails with EPERM.

Every step reports what it did; `Report.complete` is False when a layer could not be
applied, and the pool refuses such a worker unless in-process execution is allowed.
docs/isolation.md says what each layer guarantees on which kernel.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import resource
import signal
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import NamedTuple

import msgspec

from runtime.isolated import landlock, namespaces, syscalls

_PR_SET_PDEATHSIG = 1
# Top-level packages of the platform that extension code must never read or import.
PLATFORM_PACKAGES = {"services", "cli", "bench", "connectors", "tests", "docs", ".backfill"}
# Code the worker itself runs (read-only): the SDK and what it stands on.
WORKER_PACKAGES = ("sdk", "runtime", "contracts")
_libc = ctypes.CDLL(None, use_errno=True)

try:  # loaded by the zygote, before any lock-down: finding the library needs the filesystem
    import pyseccomp as seccomp

    SECCOMP_MISSING: str | None = None
except (ImportError, OSError) as missing:  # libseccomp2 absent: workers are refused
    seccomp = None
    SECCOMP_MISSING = str(missing)


class Limits(msgspec.Struct, frozen=True, kw_only=True):
    """Per-worker resource limits."""

    memory_mb: int = 512
    cpu_s: int = 3600  # cumulative CPU of one worker's life; the parent enforces wall time
    open_files: int = 64
    file_mb: int = 64
    threads: int = 32  # RLIMIT_NPROC of the worker's own (unshared) user: its threads
    scratch_mb: int = 64  # the /tmp tmpfs: its files count against memory, so it is small
    scratch_inodes: int = 2_048


class Report(msgspec.Struct, kw_only=True):
    """What the lock-down achieved, layer by layer (sent to the parent in `Ready`)."""

    namespaces: str = ""
    view: bool = False
    landlock_abi: int = 0
    seccomp: bool = False
    rlimits: bool = False
    environment_cleared: bool = False
    problems: list[str] = []

    @property
    def complete(self) -> bool:
        """Every layer is in place."""
        return (
            bool(self.namespaces)
            and self.view
            and self.landlock_abi >= 1  # TCP rules need ABI 4; the netns and seccomp cover TCP
            and self.seccomp
            and self.rlimits
            and self.environment_cleared
            and not self.problems
        )


def die_with_parent() -> None:
    """Ask the kernel to kill this process when its parent exits."""
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def close_inherited_fds(keep: int) -> None:
    """Close every descriptor but stdio (pointed at /dev/null) and `keep`."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    # Every open descriptor, however high (RLIMIT_NOFILE may exceed 65536): listed from
    # /proc/self/fd, then the whole range up to the limit where /proc is not mounted.
    try:
        open_fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        open_fds = list(range(3, limit if limit != resource.RLIM_INFINITY else 1 << 20))
    for fd in open_fds:
        if fd > 2 and fd != keep:
            with contextlib.suppress(OSError):
                os.close(fd)


class Exposure(NamedTuple):
    """What a worker's private view shows: `readable` paths bound read-only whole, and the
    entries inside them that `hidden` covers with an empty read-only mount."""

    readable: list[str]
    hidden: list[str]


@functools.cache
def exposure() -> Exposure:
    """The interpreter's library, third-party packages and worker code; never the platform's.

    Computed once in the zygote (workers inherit the result). Directories are bound whole and
    what must not show inside them is covered: the standard library's own `site-packages`
    (unless it is on `sys.path`, as in an image that installs into the interpreter), and the
    platform's packages in a site-packages that holds the installed platform. A few mounts
    per worker, not one per entry (binding the standard library entry by entry took ≈ 200
    mounts and most of a worker's start-up).
    """
    readable: set[str] = set()
    hidden: set[str] = set()
    on_path = {Path(entry) for entry in sys.path if Path(entry).is_dir()}
    libraries = {Path(sysconfig.get_paths()[key]) for key in ("stdlib", "platstdlib")}
    for library in libraries:
        readable.add(str(library))
        for name in ("site-packages", "dist-packages"):
            if (library / name).is_dir() and library / name not in on_path:
                hidden.add(str(library / name))
    for directory in on_path - libraries:
        if (directory / "pyproject.toml").exists():
            # the platform's source tree (an editable install): only the worker's packages
            readable.update(str(directory / name) for name in WORKER_PACKAGES)
        elif (directory / "services").is_dir():
            # site-packages holding the installed platform: everything but its packages
            readable.add(str(directory))
            hidden.update(
                str(child)
                for child in directory.iterdir()
                if child.name in PLATFORM_PACKAGES or child.name.startswith(".")
            )
        else:
            readable.add(str(directory))
    for extra in ("/usr/share/zoneinfo", os.devnull, "/dev/urandom"):
        if os.path.exists(extra):
            readable.add(extra)
    return Exposure(sorted(readable), sorted(hidden))


def enter_view(root: str, limits: Limits, problem: str | None, report: Report) -> None:
    """The private mount view, then the mapped ids and no capabilities (namespaces.py)."""
    if problem is not None:
        report.problems.append(problem)
        return
    report.namespaces = "user,pid,net,mount,ipc,uts"
    try:
        shown = exposure()
        namespaces.private_view(
            root, shown.readable, shown.hidden, limits.scratch_mb, limits.scratch_inodes
        )
        namespaces.drop_capabilities()
        report.view = True
    except OSError as error:
        report.problems.append(f"mount view: {error}")


def set_limits(limits: Limits, in_use: int, report: Report) -> None:
    """Address space, threads, CPU, open files, file size; no core dumps.

    `in_use` is the address space the worker already has (read before its view hid /proc).
    """
    try:
        memory = limits.memory_mb * 1024 * 1024
        if memory <= in_use:
            # a limit the interpreter does not even fit in: every invocation would fail
            report.problems.append(
                f"rlimits: memory limit {limits.memory_mb} MB is below the worker's own "
                f"address space ({in_use // 2**20} MB)"
            )
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_s, limits.cpu_s + 5))
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
        size = limits.file_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.threads, limits.threads))
        report.rlimits = True
    except (OSError, ValueError) as error:
        report.problems.append(f"rlimits: {error}")


def _address_space() -> int:
    """This process's virtual memory size in bytes (0 when /proc is not readable)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[0]) * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        return 0


def confine_files(report: Report) -> None:
    """Landlock: read-only library paths, /tmp writable, no TCP."""
    try:
        # Whole directories, as the view binds them: what the view hides inside them (the
        # platform's packages) does not exist there, whatever Landlock would allow.
        report.landlock_abi = landlock.restrict(exposure().readable, [namespaces.SCRATCH])
    except OSError as error:
        report.problems.append(f"landlock: {error}")


def clear_environment(report: Report) -> None:
    """Nothing of the service's environment; HOME and TMPDIR at /tmp."""
    scratch = namespaces.SCRATCH
    os.environ.clear()
    os.environ.update({"HOME": scratch, "TMPDIR": scratch})
    os.chdir(scratch)
    report.environment_cleared = True


# A worker is pid 1 of its own PID namespace, so every worker's filter is the same program:
# compiled once in the zygote (libseccomp's compile took ≈ 5 ms of every worker's start-up)
# and loaded by each worker as it is.
WORKER_PID = 1
_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]


@functools.cache
def compiled_filter() -> bytes:
    """The seccomp program for a worker that is pid 1 (empty when libseccomp is missing)."""
    if seccomp is None:
        return b""
    with tempfile.TemporaryFile() as program:
        syscalls.build(seccomp, WORKER_PID).export_bpf(program)
        program.seek(0)
        return program.read()


def filter_syscalls(report: Report) -> None:
    """seccomp: the allow-list of `syscalls.py`, EPERM for every other call."""
    if seccomp is None:
        report.problems.append(f"seccomp: libseccomp unavailable ({SECCOMP_MISSING})")
        return
    try:
        program = compiled_filter()
        if os.getpid() != WORKER_PID or not program:  # no PID namespace: built for this pid
            syscalls.build(seccomp, os.getpid()).load()
        else:
            _load(program)
        report.seccomp = True
    except Exception as error:  # any failure to filter leaves the worker incomplete
        report.problems.append(f"seccomp: {error}")


def _load(program: bytes) -> None:
    """Install a compiled filter (8 bytes per instruction) on this thread."""
    if _libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
    fprog = _SockFprog(len(program) // 8, program)
    if _libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP) failed")


def lock_down(root: str, limits: Limits, problem: str | None) -> Report:
    """Apply every layer in order (see the module docstring) except seccomp; report.

    `problem` is why the zygote could not make the worker's namespaces (None: it did).
    """
    report = Report()
    in_use = _address_space()
    enter_view(root, limits, problem, report)
    set_limits(limits, in_use, report)
    confine_files(report)
    clear_environment(report)
    return report
