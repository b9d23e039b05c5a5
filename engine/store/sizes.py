"""Layer sizes counted the way Docker counts them."""

from __future__ import annotations

import os

__all__ = ["dir_size"]


def dir_size(path: str) -> int:
    """Bytes under ``path``: every non-directory's size, each inode once.

    Docker's ``directory.Size`` does the same, so a hard-linked busybox counts
    once however many applet links point at it.
    """
    seen: set[tuple[int, int]] = set()
    total = 0
    stack = [path]
    while stack:
        current = stack.pop()
        try:
            entries = os.scandir(current)
        except FileNotFoundError:
            continue
        with entries:
            for entry in entries:
                st = entry.stat(follow_symlinks=False)
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                    continue
                if st.st_nlink > 1:
                    key = (st.st_dev, st.st_ino)
                    if key in seen:
                        continue
                    seen.add(key)
                total += st.st_size
    return total
