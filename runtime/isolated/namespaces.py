"""How the zygote forks a worker into its own namespaces, and the worker's private view.

`fork_worker` (zygote side) makes every worker in two steps so that it is pid 1 of a PID
namespace of its own and runs under a uid that owns nothing on the host:

1. the zygote forks a helper, which drops its supplementary groups and unshares user, PID,
   network, mount, IPC and UTS namespaces, then waits;
2. the zygote (root, or the service's own uid) writes the helper's uid/gid maps: inside id 0
   is host id `uid` (an unprivileged id no host file belongs to), or the service's own id
   when it is not root;
3. the helper forks the worker (pid 1 of the new PID namespace), hands its host pid to the
   zygote and stays its parent, waiting for it (the worker's death signal is tied to the
   helper's, the helper's to the zygote's, the zygote's to the service's).

`private_view` (worker side, still holding capabilities only over its own namespaces) builds
a root where the host's files do not exist: a small read-only tmpfs holding read-only bind
mounts of the paths the worker reads (the interpreter's library, packages, the SDK), two
devices, and a size- and inode-limited tmpfs at /tmp (the scratch quota); it pivots into it
and detaches the old root. `become_unprivileged` then switches to the mapped ids and drops
every capability (bounding, ambient, permitted, effective, inheritable).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import struct
from typing import NoReturn

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
NAMESPACES = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2
_ST_FLAGS = {1: MS_RDONLY, 2: MS_NOSUID, 4: MS_NODEV, 8: MS_NOEXEC}  # statvfs f_flag -> MS_*
_PR_SET_PDEATHSIG = 1
_PR_CAPBSET_DROP = 24
_PR_CAP_AMBIENT = 47
_PR_CAP_AMBIENT_CLEAR_ALL = 4
_CAP_LAST = 63
_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}
_SYS_CAPSET = {"x86_64": 126, "aarch64": 91}
PID = struct.Struct("!i")
HANDSHAKE_TIMEOUT_S = 5.0
DEVICES = ("/dev/null", "/dev/urandom")
SCRATCH = "/tmp"

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = (
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_ulong,
    ctypes.c_char_p,
)
_libc.umount2.argtypes = (ctypes.c_char_p, ctypes.c_int)


class NamespaceError(OSError):
    """A namespace, map or mount step failed."""


def _check(result: int, what: str) -> None:
    if result != 0:
        error = ctypes.get_errno()
        raise NamespaceError(error, f"{what}: {os.strerror(error)}")


def fork_worker(uid: int) -> tuple[int, str | None]:
    """Fork a worker in new namespaces: (host pid, None) in the zygote, (0, problem) in it.

    `problem` is why the namespaces could not be made (the worker then reports it and is
    refused); never raises in the zygote except when the fork itself fails.
    """
    zygote_reads, helper_writes = os.pipe()
    helper_reads, zygote_writes = os.pipe()
    helper = os.fork()
    if helper == 0:
        os.close(zygote_reads)
        os.close(zygote_writes)
        return 0, _helper(helper_reads, helper_writes)
    os.close(helper_reads)
    os.close(helper_writes)
    try:
        worker = _map_and_collect(helper, zygote_reads, zygote_writes, uid)
    finally:
        os.close(zygote_reads)
        os.close(zygote_writes)
    return worker, None


def _read(fd: int, size: int) -> bytes:
    ready, _, _ = select.select([fd], [], [], HANDSHAKE_TIMEOUT_S)
    return os.read(fd, size) if ready else b""


def _map_and_collect(helper: int, from_helper: int, to_helper: int, uid: int) -> int:
    """Write the helper's id maps once it unshared; return the worker's host pid."""
    status = _read(from_helper, 1)
    if status == b"u":  # unshared: map inside 0 to `uid` (or to ourselves, unprivileged)
        outside = uid if os.geteuid() == 0 else os.geteuid()
        outside_gid = uid if os.geteuid() == 0 else os.getegid()
        try:
            with open(f"/proc/{helper}/setgroups", "w") as setgroups:
                setgroups.write("deny")
            with open(f"/proc/{helper}/uid_map", "w") as uid_map:
                uid_map.write(f"0 {outside} 1")
            with open(f"/proc/{helper}/gid_map", "w") as gid_map:
                gid_map.write(f"0 {outside_gid} 1")
            os.write(to_helper, b"m")
        except OSError as error:
            os.write(to_helper, b"e" + str(error).encode()[:200])
    answer = _read(from_helper, PID.size)
    if len(answer) != PID.size:
        os.kill(helper, 9)
        raise NamespaceError(0, "the namespace helper did not answer")
    return int(PID.unpack(answer)[0])


def _helper(from_zygote: int, to_zygote: int) -> str | None:
    """In the helper: unshare, await the maps, fork the worker; only the worker returns."""
    problem: str | None = None
    os.setgroups([])  # nothing of the service's groups may follow the worker
    if _libc.unshare(NAMESPACES) != 0:
        problem = f"namespaces: {os.strerror(ctypes.get_errno())}"
        os.write(to_zygote, b"x")
    else:
        os.write(to_zygote, b"u")
        answer = _read(from_zygote, 256)
        if answer != b"m":
            problem = f"id maps: {answer[1:].decode(errors='replace') or 'no answer'}"
    worker = os.fork()
    if worker == 0:
        os.close(from_zygote)
        os.close(to_zygote)
        return problem
    os.write(to_zygote, PID.pack(worker))
    _stay_parent(worker)


def _stay_parent(worker: int) -> NoReturn:
    """The helper stays the worker's parent (its death signal is tied to it) until it exits.

    It holds no descriptor the worker's end of the conversation depends on, and dies with the
    zygote, which takes the worker with it.
    """
    _libc.prctl(_PR_SET_PDEATHSIG, 9, 0, 0, 0)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.closerange(3, 1 << 16)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(worker, 0)
    os._exit(0)


def private_view(
    root: str, readable: list[str], hidden: list[str], scratch_mb: int, scratch_inodes: int
) -> None:
    """Pivot into a root holding only `readable` (read-only, minus `hidden` inside it), two
    devices and a /tmp quota.

    `root` is an empty host directory used as the mount point (in this mount namespace only).
    The sources are opened first, while the process is still the host's user (the library
    may sit below a directory only that user can cross); the mounts are made after switching
    to the mapped ids, through those descriptors.
    """
    sources = {}
    for path in [*readable, *DEVICES]:
        with contextlib.suppress(OSError):
            sources[path] = os.open(path, os.O_PATH | os.O_CLOEXEC)
    anchor = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    os.setresgid(0, 0, 0)
    os.setresuid(0, 0, 0)  # the mapped ids; capabilities over our own namespaces remain
    _check(_libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "make / private")
    new_root = f"/proc/self/fd/{anchor}".encode()
    _check(
        _libc.mount(b"tmpfs", new_root, b"tmpfs", MS_NOSUID | MS_NODEV, b"size=4m,mode=755"),
        "mount the new root",
    )
    os.fchdir(anchor)
    os.close(anchor)
    os.chdir(root)  # the tmpfs now mounted there
    for path, fd in sorted(sources.items()):  # a directory before what is bound inside it
        _bind_read_only(fd, path, "." + path)
        os.close(fd)
    for path in hidden:
        _cover("." + path)
    options = f"size={scratch_mb}m,nr_inodes={scratch_inodes},mode=700".encode()
    os.makedirs("." + SCRATCH, exist_ok=True)
    _check(
        _libc.mount(b"tmpfs", ("." + SCRATCH).encode(), b"tmpfs", MS_NOSUID | MS_NODEV, options),
        "mount the scratch tmpfs",
    )
    _check(_syscall(_SYS_PIVOT_ROOT, b".", b"."), "pivot_root")
    _check(_libc.umount2(b".", MNT_DETACH), "detach the host's root")
    os.chdir("/")
    flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV
    _check(_libc.mount(None, b"/", None, flags, None), "make the new root read-only")


def _cover(target: str) -> None:
    """Hide what `target` (inside a read-only bind) holds: an empty read-only mount over it."""
    if os.path.isdir(target):
        flags = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC
        options = b"size=4k,nr_inodes=1,mode=555"
        _check(_libc.mount(b"tmpfs", target.encode(), b"tmpfs", flags, options), target)
    elif os.path.lexists(target):
        _check(_libc.mount(b"./dev/null", target.encode(), None, MS_BIND, None), target)


def _bind_read_only(fd: int, source: str, target: str) -> None:
    if os.path.isdir(f"/proc/self/fd/{fd}"):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "a"):
            pass
    origin = f"/proc/self/fd/{fd}".encode()
    _check(_libc.mount(origin, target.encode(), None, MS_BIND | MS_REC, None), source)
    kept = 0
    for bit, flag in _ST_FLAGS.items():  # flags the source mount locks must be kept
        if os.statvfs(target).f_flag & bit:
            kept |= flag
    flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | kept
    _check(_libc.mount(None, target.encode(), None, flags, None), f"read-only {source}")


def drop_capabilities() -> None:
    """Drop every capability (bounding, ambient, permitted, effective, inheritable)."""
    for cap in range(_CAP_LAST + 1):
        _libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0)
    _libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this thread
    data = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable (x2): all empty
    _check(_syscall(_SYS_CAPSET, ctypes.byref(header), ctypes.byref(data)), "drop capabilities")


def _syscall(numbers: dict[str, int], *args: object) -> int:
    import platform

    return int(_libc.syscall(ctypes.c_long(numbers[platform.machine()]), *args))
