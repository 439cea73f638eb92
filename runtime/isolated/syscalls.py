"""The worker's seccomp filter: an allow-list of what a Python worker needs, EPERM for the rest.

Anything not listed fails with EPERM, so a call nobody thought of is refused rather than
allowed. Not listed on purpose: sockets of any kind (the worker only uses the socket it
inherited), exec, fork (clone is allowed only with CLONE_THREAD: threads), signals to any
process (tgkill only to the worker itself), scheduling and priority changes (nice, affinity,
policies, I/O priority), pidfds, ptrace and process_vm_*, memfd_create, file metadata
changes (chmod, chown, utime, xattrs), inotify/fanotify, mounts and namespaces, keyrings,
bpf, perf, io_uring, userfaultfd, and raising resource limits (prlimit64 may only read this
process's own). `ioctl` is limited to the few terminal/descriptor requests the standard
library issues; `prctl` to naming a thread.
"""

from __future__ import annotations

import contextlib
import errno
from typing import Any

CLONE_THREAD = 0x00010000
PR_SET_NAME = 15
PR_GET_NAME = 16
IOCTLS = (
    0x5401,  # TCGETS (isatty)
    0x5413,  # TIOCGWINSZ
    0x5421,  # FIONBIO
    0x541B,  # FIONREAD
    0x5450,  # FIONCLEX
    0x5451,  # FIOCLEX
)
ALLOWED = (
    # descriptors and files (Landlock and the private mount view decide which files)
    *("read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev"),
    *("lseek", "close", "close_range", "dup", "dup2", "dup3", "fcntl", "flock"),
    *("open", "openat", "openat2", "creat", "stat", "fstat", "lstat", "newfstatat", "statx"),
    *("access", "faccessat", "faccessat2", "readlink", "readlinkat", "getdents64"),
    *("getcwd", "chdir", "fchdir", "mkdir", "mkdirat", "rmdir", "unlink", "unlinkat"),
    *("rename", "renameat", "renameat2", "link", "linkat", "symlink", "symlinkat"),
    *("truncate", "ftruncate", "fallocate", "fsync", "fdatasync", "fadvise64", "umask"),
    *("sendfile", "copy_file_range", "pipe", "pipe2", "eventfd2"),
    # memory
    *("brk", "mmap", "munmap", "mprotect", "mremap", "madvise", "msync", "mincore"),
    # threads, signals to itself, waiting
    *("futex", "futex_waitv", "set_robust_list", "get_robust_list", "set_tid_address"),
    *("rseq", "sched_yield", "sched_getaffinity", "membarrier", "exit", "exit_group"),
    *("rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigsuspend", "sigaltstack"),
    *("rt_sigpending", "rt_sigtimedwait", "restart_syscall", "pause"),
    *("epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait"),
    *("epoll_pwait2", "poll", "ppoll", "select", "pselect6"),
    # the inherited socket (no new ones: socket/socketpair/connect/bind are not listed)
    *("recvfrom", "recvmsg", "sendto", "sendmsg", "shutdown", "getsockopt", "getsockname"),
    "getpeername",
    # identity and time (read-only)
    *("getpid", "gettid", "getppid", "getuid", "geteuid", "getgid", "getegid", "getgroups"),
    *("getresuid", "getresgid", "getpgrp", "getpgid", "getsid", "uname", "sysinfo"),
    *("getrusage", "times", "getcpu", "getrandom", "arch_prctl"),
    *("clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep", "gettimeofday", "time"),
    *("alarm", "getitimer", "setitimer"),
)


def build(seccomp: Any, own_pid: int) -> Any:
    """The filter (not loaded): `seccomp` is the pyseccomp module."""
    rules = seccomp.SyscallFilter(seccomp.ERRNO(errno.EPERM))
    with contextlib.suppress(Exception):  # a binary tree, not a list (libseccomp >= 2.5)
        rules.set_attr(seccomp.Attr.CTL_OPTIMIZE, 2)
    allow = seccomp.ALLOW
    for name in ALLOWED:
        try:
            rules.add_rule(allow, name)
        except (RuntimeError, ValueError, OSError):
            continue  # not a syscall of this architecture
    # Threads are clone(CLONE_THREAD | ...); a process would be clone without it.
    rules.add_rule(allow, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, CLONE_THREAD, CLONE_THREAD))
    # clone3 passes its flags in memory a filter cannot read: ENOSYS makes libc fall back.
    rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    for request in IOCTLS:
        rules.add_rule(allow, "ioctl", seccomp.Arg(1, seccomp.EQ, request))
    for option in (PR_SET_NAME, PR_GET_NAME):
        rules.add_rule(allow, "prctl", seccomp.Arg(0, seccomp.EQ, option))
    # Reading its own limits (getrlimit is prlimit64(0, resource, NULL, old)).
    rules.add_rule(allow, "prlimit64", seccomp.Arg(0, seccomp.EQ, 0), seccomp.Arg(2, seccomp.EQ, 0))
    # Signals only to itself (raise, pthread_kill): the worker is pid `own_pid`.
    rules.add_rule(allow, "tgkill", seccomp.Arg(0, seccomp.EQ, own_pid))
    return rules
