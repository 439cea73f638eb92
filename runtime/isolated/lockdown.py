"""Locks a freshly forked worker down before it touches any extension code.

Order matters, each step needing what the previous one still allowed:
1. new user, network, mount and IPC namespaces (no route to any host service, not even
   127.0.0.1; no SysV IPC shared with the host); where user namespaces are refused but the
   process is root, the namespaces are made as root and the worker drops to `nobody`;
2. resource limits: address space (memory), open files, file size, CPU as a backstop to the
   parent's wall-clock limit, no core dumps;
3. Landlock: read-only access to the interpreter's standard library, the third-party
   packages and the SDK/runtime code the worker runs, read-write to its scratch dir only;
   no TCP; abstract sockets and signals scoped to itself;
4. a cleared environment (HOME and TMPDIR point at the scratch dir);
5. seccomp deny list (after the caller built its event loop, whose self-pipe is a socket):
   no new sockets, no exec, no fork (threads still work), no ptrace, mount, bpf, keyrings,
   namespaces, io_uring, or raising limits.

Every step reports what it did; `Report.complete` is False when a layer could not be
applied, and the pool refuses such a worker unless in-process execution is allowed.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import os
import resource
import signal
import sys
import sysconfig
from pathlib import Path

import msgspec

from runtime.isolated import landlock

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
CLONE_THREAD = 0x00010000
_PR_SET_PDEATHSIG = 1
NOBODY = 65534
# Top-level packages of the platform that extension code must never read or import.
PLATFORM_PACKAGES = {"services", "cli", "bench", "connectors", "tests", "docs", ".backfill"}
# Code the worker itself runs (read-only): the SDK and what it stands on.
WORKER_PACKAGES = ("sdk", "runtime", "contracts")
DENIED_SYSCALLS = (
    "socket",
    "socketpair",
    "execve",
    "execveat",
    "fork",
    "vfork",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "bpf",
    "perf_event_open",
    "keyctl",
    "add_key",
    "request_key",
    "unshare",
    "setns",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "setrlimit",
    "prlimit64",
    "userfaultfd",
    "kexec_load",
    "init_module",
    "finit_module",
)

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


class Report(msgspec.Struct, kw_only=True):
    """What the lock-down achieved, layer by layer (sent to the parent in `Ready`)."""

    namespaces: str = ""
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


@functools.cache
def readable_paths() -> list[str]:
    """The interpreter's library, third-party packages and worker code; never the platform's.

    Computed once in the zygote (workers inherit the result). The standard library is listed
    entry by entry without its `site-packages`: an image that installs the platform into the
    interpreter's own site-packages must not expose it through the stdlib rule; site-packages
    dirs are granted through `sys.path` below, minus the platform's packages.
    """
    paths: set[str] = set()
    for key in ("stdlib", "platstdlib"):
        library = Path(sysconfig.get_paths()[key])
        for child in library.iterdir():
            if child.name not in ("site-packages", "dist-packages"):
                paths.add(str(child))
    for entry in sys.path:
        directory = Path(entry)
        if not directory.is_dir():
            continue
        if (directory / "pyproject.toml").exists():
            # the platform's source tree (an editable install): only the worker's packages
            paths.update(str(directory / name) for name in WORKER_PACKAGES)
        elif (directory / "services").is_dir():
            # site-packages holding the installed platform: everything but its services
            for child in directory.iterdir():
                if child.name not in PLATFORM_PACKAGES and not child.name.startswith("."):
                    paths.add(str(child))
        else:
            paths.add(str(directory))
    for extra in ("/usr/share/zoneinfo", os.devnull, "/dev/urandom"):
        if os.path.exists(extra):
            paths.add(extra)
    return sorted(paths)


def enter_namespaces(scratch: str, report: Report) -> None:
    """New user/net/mount/IPC namespaces; as root without user namespaces, drop to nobody."""
    isolated = CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWIPC
    if _libc.unshare(CLONE_NEWUSER | isolated) == 0:
        report.namespaces = "user,net,mount,ipc"
        return
    first = os.strerror(ctypes.get_errno())
    if os.geteuid() == 0 and _libc.unshare(isolated) == 0:
        os.chown(scratch, NOBODY, NOBODY)
        os.setgroups([])
        os.setresgid(NOBODY, NOBODY, NOBODY)
        os.setresuid(NOBODY, NOBODY, NOBODY)
        report.namespaces = "net,mount,ipc (user namespace refused: running as nobody)"
        return
    report.problems.append(f"namespaces: {first}")


def set_limits(limits: Limits, report: Report) -> None:
    """Address space, CPU, open files, file size; no core dumps."""
    try:
        memory = limits.memory_mb * 1024 * 1024
        in_use = _address_space()
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


def confine_files(scratch: str, report: Report) -> None:
    """Landlock: read-only library paths, the scratch dir writable, no TCP."""
    try:
        report.landlock_abi = landlock.restrict(readable_paths(), [scratch])
    except OSError as error:
        report.problems.append(f"landlock: {error}")


def clear_environment(scratch: str, report: Report) -> None:
    """Nothing of the service's environment; HOME and TMPDIR at the scratch dir."""
    os.environ.clear()
    os.environ.update({"HOME": scratch, "TMPDIR": scratch})
    os.chdir(scratch)
    report.environment_cleared = True


def filter_syscalls(report: Report) -> None:
    """seccomp: EPERM for the deny list and for clone without CLONE_THREAD."""
    if seccomp is None:
        report.problems.append(f"seccomp: libseccomp unavailable ({SECCOMP_MISSING})")
        return
    try:
        rules = seccomp.SyscallFilter(seccomp.ALLOW)
        deny = seccomp.ERRNO(errno.EPERM)
        for name in DENIED_SYSCALLS:
            try:
                rules.add_rule(deny, name)
            except (RuntimeError, ValueError, OSError):
                continue  # not a syscall of this architecture
        # Threads are clone(CLONE_THREAD | ...); a process is clone without it.
        rules.add_rule(deny, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, CLONE_THREAD, 0))
        # clone3 passes its flags in memory a filter cannot read: ENOSYS makes libc fall
        # back to clone, which the rule above checks.
        rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
        rules.load()
        report.seccomp = True
    except Exception as error:  # any failure to filter leaves the worker incomplete
        report.problems.append(f"seccomp: {error}")


def lock_down(scratch: str, limits: Limits) -> Report:
    """Apply every layer in order (see the module docstring) except seccomp; report."""
    report = Report()
    enter_namespaces(scratch, report)
    set_limits(limits, report)
    confine_files(scratch, report)
    clear_environment(scratch, report)
    return report
