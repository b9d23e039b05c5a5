"""Open a container path with every component resolved inside the container's root.

The kernel does it when it can (openat2 with ``RESOLVE_IN_ROOT``: ``..`` stops
at the root, absolute link targets restart from it, and ``/proc/self/fd``-style
magic links are refused), so a container racing renames against us cannot make
a component land outside. Kernels before 5.6 lack openat2: then the path is
walked one component at a time with ``O_PATH|O_NOFOLLOW`` fds, each link read
and resolved against the root by hand; ``..`` pops a component we already hold
an fd of instead of asking the kernel, which could climb above the root mount.
"""

from __future__ import annotations

import errno
import os
import stat

from ..kernel.syscalls import RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, openat2

__all__ = ["open_in_root", "split_path", "use_openat2"]

_MAX_SYMLINKS = 40  # as the kernel's limit
_RETRIES = 16
use_openat2: bool = True
"""False once openat2 answered ENOSYS (tests set it to walk the fallback path on purpose)."""


def split_path(path: str) -> list[str]:
    return [part for part in path.split("/") if part and part != "."]


def open_in_root(root_fd: int, path: str, flags: int = os.O_PATH, *, follow_last: bool = True) -> int:
    """An fd of container path ``path`` below the root ``root_fd`` (an ``O_PATH`` directory fd).

    ``flags`` are openat(2)'s for the last component; without ``follow_last`` a
    final symlink is opened itself (give ``O_PATH``). Raises OSError as open(2).
    """
    global use_openat2
    if not follow_last:
        flags |= os.O_NOFOLLOW
    if use_openat2:
        for _ in range(_RETRIES):
            try:
                return openat2(root_fd, path or "/", flags, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
            except OSError as err:
                if err.errno == errno.EAGAIN:
                    continue  # the kernel saw a rename race on "..": it asks to try again
                if err.errno != errno.ENOSYS:
                    raise
                use_openat2 = False
                break
        else:
            raise OSError(errno.EAGAIN, os.strerror(errno.EAGAIN))
    return _walk(root_fd, path, flags, follow_last)


def _walk(root_fd: int, path: str, flags: int, follow_last: bool) -> int:
    """The fallback: an fd per component, never following a link the kernel would resolve against ``/``."""
    held = [os.dup(root_fd)]  # held[-1] is the current directory; held[0] is the root
    pending = split_path(path)
    followed = 0
    try:
        while pending:
            part = pending.pop(0)
            if part == "..":
                if len(held) > 1:
                    os.close(held.pop())
                continue
            last = not pending
            fd = os.open(part, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=held[-1])
            mode = os.fstat(fd).st_mode
            if stat.S_ISLNK(mode) and (follow_last or not last):
                target = os.readlink("", dir_fd=fd)
                os.close(fd)
                followed += 1
                if followed > _MAX_SYMLINKS:
                    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP))
                if target.startswith("/"):
                    while len(held) > 1:
                        os.close(held.pop())
                pending = split_path(target) + pending
                continue
            if last:
                os.close(fd)
                return os.open(part, flags | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=held[-1])
            if not stat.S_ISDIR(mode):
                os.close(fd)
                raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
            held.append(fd)
        return os.open(".", flags | os.O_CLOEXEC, dir_fd=held[-1])
    finally:
        for fd in held:
            os.close(fd)
