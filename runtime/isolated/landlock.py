"""A small ctypes binding of Landlock: read-only paths, one writable dir, no TCP, scoped IPC.

Landlock is an allow-list the process applies to itself (and every thread and child it may
have): once `restrict` returns, files outside the granted paths cannot be opened, TCP can
neither bind nor connect, abstract Unix sockets and signals cannot reach processes outside
the domain. Rights the running kernel does not know are dropped from the request, so the
strongest policy the kernel offers is applied; `restrict` reports the ABI it used.
"""

from __future__ import annotations

import ctypes
import os
import platform
from collections.abc import Iterable

_SYSCALLS = {  # the same numbers on x86_64 and aarch64 (asm-generic)
    "create_ruleset": 444,
    "add_rule": 445,
    "restrict_self": 446,
}
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38

EXECUTE = 1 << 0
WRITE_FILE = 1 << 1
READ_FILE = 1 << 2
READ_DIR = 1 << 3
REMOVE_DIR = 1 << 4
REMOVE_FILE = 1 << 5
MAKE_CHAR = 1 << 6
MAKE_DIR = 1 << 7
MAKE_REG = 1 << 8
MAKE_SOCK = 1 << 9
MAKE_FIFO = 1 << 10
MAKE_BLOCK = 1 << 11
MAKE_SYM = 1 << 12
REFER = 1 << 13  # ABI 2
TRUNCATE = 1 << 14  # ABI 3
IOCTL_DEV = 1 << 15  # ABI 5
_FS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 4: (1 << 15) - 1}
_FS_ALL = (1 << 16) - 1
FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV
READ = READ_FILE | READ_DIR
WRITE = READ | WRITE_FILE | REMOVE_DIR | REMOVE_FILE | MAKE_DIR | MAKE_REG | TRUNCATE
NET_BIND_TCP = 1 << 0  # ABI 4
NET_CONNECT_TCP = 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
SCOPE_SIGNAL = 1 << 1


class LandlockError(OSError):
    """Landlock is missing or refused the ruleset."""


class _RulesetAttr(ctypes.Structure):
    _fields_ = (
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    )


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = (("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32))


_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _syscall(name: str, *args: object) -> int:
    if platform.machine() not in ("x86_64", "aarch64"):
        raise LandlockError(0, f"Landlock binding not built for {platform.machine()}")
    result = int(_libc.syscall(ctypes.c_long(_SYSCALLS[name]), *args))
    if result < 0:
        error = ctypes.get_errno()
        raise LandlockError(error, f"landlock_{name}: {os.strerror(error)}")
    return result


def abi_version() -> int:
    """The Landlock ABI the kernel offers (0 when Landlock is absent or disabled)."""
    try:
        return _syscall("create_ruleset", None, ctypes.c_size_t(0), _CREATE_RULESET_VERSION)
    except LandlockError:
        return 0


def restrict(read_only: Iterable[str], writable: Iterable[str]) -> int:
    """Confine this process to reading `read_only`, writing `writable`, and nothing else.

    Also denies every TCP bind/connect (ABI ≥ 4) and scopes abstract Unix sockets and
    signals to the domain (ABI ≥ 6). Sets no_new_privs first (Landlock requires it).
    Returns the ABI used; raises LandlockError when the kernel has no Landlock.
    """
    abi = abi_version()
    if abi < 1:
        raise LandlockError(0, "Landlock is not available on this kernel")
    fs = _FS_BY_ABI.get(abi, _FS_ALL)
    attr = _RulesetAttr(
        handled_access_fs=fs,
        handled_access_net=(NET_BIND_TCP | NET_CONNECT_TCP) if abi >= 4 else 0,
        scoped=(SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL) if abi >= 6 else 0,
    )
    size = ctypes.sizeof(_RulesetAttr) if abi >= 6 else 16 if abi >= 4 else 8
    ruleset = _syscall("create_ruleset", ctypes.byref(attr), ctypes.c_size_t(size), 0)
    try:
        for paths, access in ((read_only, READ), (writable, WRITE)):
            for path in paths:
                _allow(ruleset, path, access & fs)
        if _libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise LandlockError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
        _syscall("restrict_self", ruleset, 0)
    finally:
        os.close(ruleset)
    return abi


def _allow(ruleset: int, path: str, access: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        if not os.path.isdir(path):
            access &= FILE_RIGHTS  # a file rule may only carry file rights
        rule = _PathBeneathAttr(allowed_access=access, parent_fd=fd)
        _syscall("add_rule", ruleset, _RULE_PATH_BENEATH, ctypes.byref(rule), 0)
    finally:
        os.close(fd)
