"""Deleting a tree whose shape someone else chose: a container's layer, an image layer, a volume, a context.

Python 3.11's ``shutil.rmtree`` recurses once per directory level, so a
container that makes a chain of 1,200 dirs kills the delete with a
RecursionError and leaves its layer behind. This walk is a loop: it holds one
directory fd at a time (any depth costs one fd and no path longer than a
name), goes down with ``openat(O_NOFOLLOW|O_DIRECTORY)`` so a symlink is
unlinked and never followed, and comes back up through ``..``, checked against
the device and inode it left, so a dir moved meanwhile stops the walk rather
than leading it elsewhere. It never descends into another filesystem: a mount
point below the top is left (its ``rmdir`` fails with EBUSY) and what is
mounted there is not touched.
"""

from __future__ import annotations

import errno
import os
import stat

__all__ = ["delete_tree"]

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def delete_tree(path: str, *, ignore_errors: bool = False) -> None:
    """Remove ``path`` and all below it, never following a link; a missing ``path`` is already done.

    With ``ignore_errors`` every entry that can go goes and failures are
    skipped (what ``shutil.rmtree(path, True)`` promises); otherwise the first
    failure is raised as an OSError naming the entry.
    """
    try:
        top_st = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError:
        if ignore_errors:
            return
        raise
    if not stat.S_ISDIR(top_st.st_mode):
        _quietly(ignore_errors, os.unlink, path)
        return
    try:
        fd = os.open(path, _DIR_FLAGS)
    except FileNotFoundError:
        return
    except OSError as err:
        if err.errno in (errno.ENOTDIR, errno.ELOOP):  # swapped for a link or a file since the lstat
            _quietly(ignore_errors, os.unlink, path)
            return
        if ignore_errors:
            return
        raise
    try:
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) != (top_st.st_dev, top_st.st_ino):
            if ignore_errors:
                return
            raise OSError(errno.ESTALE, "directory replaced while its tree was deleted", path)
        _empty(fd, top_st, path, ignore_errors)
    finally:
        os.close(fd)
    _quietly(ignore_errors, os.rmdir, path)


def _empty(fd: int, top_st: os.stat_result, path: str, ignore_errors: bool) -> None:
    """Delete everything below the open dir ``fd`` (which stays the caller's, open).

    ``frames`` holds, per level from the top down, the dir's name in its parent,
    its (dev, ino) and the names still to visit; only the deepest dir is open.
    """
    dev = top_st.st_dev
    frames: list[tuple[str, tuple[int, int], list[str]]] = [("", (dev, top_st.st_ino), _names(fd, path, ignore_errors))]
    here = fd  # the fd of frames[-1]; ``fd`` itself stays the caller's
    try:
        while frames:
            name_in_parent, ident, names = frames[-1]
            if names:
                name = names.pop()
                child = _descend(here, name, dev, path, ignore_errors)
                if child is None:
                    continue
                child_fd, child_ident = child
                frames.append((name, child_ident, _names(child_fd, path, ignore_errors)))
                if here != fd:
                    os.close(here)
                here = child_fd
                continue
            frames.pop()
            if not frames:
                return
            parent_fd = os.open("..", _DIR_FLAGS, dir_fd=here)
            os.close(here)
            here = parent_fd
            st = os.fstat(here)
            if (st.st_dev, st.st_ino) != frames[-1][1]:
                if ignore_errors:
                    return
                raise OSError(errno.ESTALE, "directory moved while its tree was deleted", path)
            _quietly(ignore_errors, os.rmdir, name_in_parent, dir_fd=here)
    finally:
        if here != fd:
            os.close(here)


def _names(fd: int, path: str, ignore_errors: bool) -> list[str]:
    try:
        return os.listdir(fd)
    except OSError as err:
        if ignore_errors:
            return []
        raise OSError(err.errno, err.strerror, path) from err


def _descend(dir_fd: int, name: str, dev: int, path: str, ignore_errors: bool) -> tuple[int, tuple[int, int]] | None:
    """Unlink ``name`` if it is not a dir, else open it (same filesystem only) to be emptied next."""
    try:
        os.unlink(name, dir_fd=dir_fd)
        return None
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        pass
    except OSError as err:
        if ignore_errors:
            return None
        raise OSError(err.errno, err.strerror, f"{path}/…/{name}") from err
    try:
        child = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    except OSError as err:
        if err.errno in (errno.ENOTDIR, errno.ELOOP):  # replaced by a non-dir since the unlink
            _quietly(ignore_errors, os.unlink, name, dir_fd=dir_fd)
            return None
        if ignore_errors:
            return None
        raise OSError(err.errno, err.strerror, f"{path}/…/{name}") from err
    st = os.fstat(child)
    if st.st_dev != dev:
        os.close(child)  # a mount point: what is mounted there is not ours; its rmdir fails EBUSY
        _quietly(ignore_errors, os.rmdir, name, dir_fd=dir_fd)
        return None
    return child, (st.st_dev, st.st_ino)


def _quietly(ignore_errors: bool, call, *args, **kw) -> None:  # type: ignore[no-untyped-def]
    try:
        call(*args, **kw)
    except FileNotFoundError:
        pass
    except OSError:
        if not ignore_errors:
            raise
