"""fcntl file locks shared by every berth process using one store.

One lock object per absolute path per process, re-entrant by count (threads of
one process share it); misuse is loud. Modelled on containers/storage's
lockfile: the lock file is opened O_CLOEXEC so a container never inherits it.
"""

from __future__ import annotations

import fcntl
import os
import threading

__all__ = ["FileLock", "get_lock", "try_lock_path"]


class FileLock:
    """An exclusive, re-entrant, cross-process lock on one file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._mutex = threading.RLock()
        self._count = 0
        self._fd = -1

    def acquire(self) -> None:
        self._mutex.acquire()
        if self._count == 0:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except BaseException:
                os.close(fd)
                self._mutex.release()
                raise
            self._fd = fd
        self._count += 1

    def release(self) -> None:
        if self._count <= 0:
            # An unbalanced release means two code paths think they own the
            # store; carrying on would let them corrupt it.
            raise RuntimeError(f"release of unlocked lock {self.path}")
        self._count -= 1
        if self._count == 0:
            fd, self._fd = self._fd, -1
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        self._mutex.release()

    @property
    def held(self) -> bool:
        """Whether this process holds it: waiting on another process that needs it would never end."""
        return self._count > 0

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


_table: dict[str, FileLock] = {}
_table_mutex = threading.Lock()


def get_lock(path: str) -> FileLock:
    """The one lock object for ``path`` in this process."""
    path = os.path.abspath(path)
    with _table_mutex:
        lock = _table.get(path)
        if lock is None:
            lock = _table[path] = FileLock(path)
        return lock


def try_lock_path(path: str) -> int | None:
    """Take an exclusive lock on ``path`` without waiting; the fd, or None when held elsewhere."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd
