"""Layer sizes counted the way Docker counts them."""

from __future__ import annotations

import errno
import os
import stat

__all__ = ["dir_size"]

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def dir_size(path: str) -> int:
    """Bytes under ``path``: every non-directory's size, each inode once.

    Docker's ``directory.Size`` does the same, so a hard-linked busybox counts
    once however many applet links point at it. A container chooses how deep
    its upper dir goes, and ``ps -s`` sizes every container: so the walk is a
    loop holding one dir fd (down by name with ``O_NOFOLLOW``, up by ``..``
    checked against the inode it left), never a recursion and never a path
    longer than a name. A dir that vanishes meanwhile counts as empty.
    """
    seen: set[tuple[int, int]] = set()
    total = 0
    try:
        fd = os.open(path, _DIR_FLAGS)
    except (FileNotFoundError, NotADirectoryError):
        return 0
    st = os.fstat(fd)
    frames: list[tuple[tuple[int, int], list[str]]] = [((st.st_dev, st.st_ino), _names(fd))]
    try:
        while frames:
            names = frames[-1][1]
            if not names:
                frames.pop()
                if not frames:
                    break
                parent = os.open("..", _DIR_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = parent
                st = os.fstat(fd)
                if (st.st_dev, st.st_ino) != frames[-1][0]:
                    raise OSError(errno.ESTALE, "directory moved while it was sized", path)
                continue
            name = names.pop()
            try:
                st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                continue
            if stat.S_ISDIR(st.st_mode):
                try:
                    child = os.open(name, _DIR_FLAGS, dir_fd=fd)
                except (FileNotFoundError, NotADirectoryError):
                    continue  # gone, or swapped for a file, since its stat
                except OSError as err:
                    if err.errno == errno.ELOOP:
                        continue  # swapped for a link
                    raise
                os.close(fd)
                fd = child
                st = os.fstat(fd)
                frames.append(((st.st_dev, st.st_ino), _names(fd)))
                continue
            if st.st_nlink > 1:
                key = (st.st_dev, st.st_ino)
                if key in seen:
                    continue
                seen.add(key)
            total += st.st_size
    finally:
        os.close(fd)
    return total


def _names(fd: int) -> list[str]:
    try:
        return os.listdir(fd)
    except FileNotFoundError:
        return []
