"""Atomic writes: a reader sees the old file or the new one, never half of either.

Temp file in the same directory, write, fsync, chmod, rename, fsync the
directory; the temp file goes on any failure, Ctrl-C included.
"""

from __future__ import annotations

import fcntl
import os

from .paths import TMP_PREFIX, TRASH_PREFIX
from .removal import delete_tree

__all__ = ["write_file", "write_dir", "fsync_dir", "remove_tree", "rename_aside"]


def _suffix() -> str:
    """8 random hex digits for a temp name (not ``uuid``: its import costs every command ~2 ms)."""
    return os.urandom(4).hex()


def fsync_dir(path: str) -> None:
    """Make a rename or unlink inside ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file(path: str, data: bytes | str, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data`` atomically and durably."""
    if isinstance(data, str):
        data = data.encode()
    directory, name = os.path.split(path)
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f"{TMP_PREFIX}{name}-{_suffix()}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
            os.fchmod(fd, mode)
        finally:
            os.close(fd)
        os.rename(tmp, path)
    except BaseException as err:
        _unlink_quietly(tmp)
        _raise_full(err, path)
        raise
    fsync_dir(directory)


def write_dir(path: str, files: dict[str, bytes | str], mode: int = 0o755,
              file_modes: dict[str, int] | None = None) -> None:
    """Create directory ``path`` holding ``files``, all at once.

    The files are written and fsynced in a sibling temp dir that is then
    renamed into place, so the record appears whole or not at all, with its
    modes (``mode``; a file's from ``file_modes``, else 0644) from the start.
    """
    parent, name = os.path.split(path)
    os.makedirs(parent, exist_ok=True)
    tmp = os.path.join(parent, f"{TMP_PREFIX}{name}-{_suffix()}")
    try:
        os.mkdir(tmp, mode)
        os.chmod(tmp, mode)  # not the umask's
        for fname, data in files.items():
            _write_new(os.path.join(tmp, fname), data, (file_modes or {}).get(fname, 0o644))
        fsync_dir(tmp)
        os.rename(tmp, path)
    except BaseException as err:
        delete_tree(tmp, ignore_errors=True)
        _raise_full(err, path)
        raise
    fsync_dir(parent)


def _write_new(path: str, data: bytes | str, mode: int = 0o644) -> None:
    if isinstance(data, str):
        data = data.encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_tree(path: str) -> None:
    """Remove a record directory so that no reader sees it half-deleted.

    It is renamed aside first (atomic), then deleted at leisure.
    """
    doomed = rename_aside(path)
    if doomed is None:
        return
    fsync_dir(os.path.dirname(path))
    delete_tree(doomed, ignore_errors=True)


def hold_trash(path: str) -> int:
    """An fd of dir ``path`` holding an exclusive flock, or -1 (not a dir): kept by a remover until the
    tree is gone, so ``trash_abandoned`` never calls a removal in progress left over."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return -1
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def trash_abandoned(path: str) -> bool:
    """Whether set-aside trash has no remover (its flock is free); not a dir: yes."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def rename_aside(path: str) -> str | None:
    """Rename ``path`` to ``.tmp-rm-<name>-<random>`` beside it (not yet synced); None if it is gone."""
    if not os.path.lexists(path):
        return None
    parent, name = os.path.split(path)
    doomed = os.path.join(parent, f"{TRASH_PREFIX}{name}-{_suffix()}")
    os.rename(path, doomed)
    return doomed


def _raise_full(err: BaseException, path: str) -> None:
    """A full (or read-only, or failing) filesystem is the user's to fix: StoreFull naming what was written."""
    from ..errors import StoreFull

    if isinstance(err, OSError):
        full = StoreFull.from_os_error(err, path)
        if full is not None:
            raise full from err


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
