"""Removing a directory tree of any depth without recursion (for scratch roots).

`shutil.rmtree` recurses once per level: a tree deeper than the interpreter's recursion
limit raises `RecursionError` half-way. `remove_tree` walks with an explicit stack of open
directory descriptors and removes entries relative to them, so neither the depth nor the
length of the paths matters; it never follows a symbolic link and never raises.
"""

from __future__ import annotations

import contextlib
import os
import stat


def remove_tree(path: str) -> None:
    """Remove `path` and everything below it, as far as permissions allow; never raises."""
    if not path:
        return
    try:
        info = os.lstat(path)
    except OSError:
        return
    if not stat.S_ISDIR(info.st_mode):
        with contextlib.suppress(OSError):
            os.unlink(path)
        return
    try:
        top = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return
    stack: list[tuple[int, str]] = [(top, "")]  # (descriptor, its name in the one below)
    stuck: set[tuple[int, int]] = set()  # directories that could not be emptied: skipped
    while stack:
        fd, name = stack[-1]
        child = _next_subdir(fd, stuck)
        if child is not None:
            stack.append(child)
            continue
        stack.pop()
        if stack:
            try:
                os.rmdir(name, dir_fd=stack[-1][0])
            except OSError:
                info = os.fstat(fd)
                stuck.add((info.st_dev, info.st_ino))
        os.close(fd)
    with contextlib.suppress(OSError):
        os.rmdir(path)


def _next_subdir(fd: int, stuck: set[tuple[int, int]]) -> tuple[int, str] | None:
    """Unlink every non-directory in `fd`; return the first subdirectory opened, or None."""
    try:
        entries = list(os.scandir(fd))
    except OSError:
        return None
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                info = entry.stat(follow_symlinks=False)
                if (info.st_dev, info.st_ino) in stuck:
                    continue
                flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
                try:
                    return os.open(entry.name, flags, dir_fd=fd), entry.name
                except OSError:
                    os.rmdir(entry.name, dir_fd=fd)  # unreadable: try it as empty
                    continue
            os.unlink(entry.name, dir_fd=fd)
        except OSError:
            continue
    return None
