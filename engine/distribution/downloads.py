"""The pull download dir: a lock per blob while a pull uses it, and what a repair may reclaim.

A pull holds ``downloads/<hex>.lock`` from the first byte of ``<hex>.partial`` until
the layer is registered, as a stager holds ``tmp/<cache-id>.lock`` (docs/design.md,
"Staging"); a blob whose lock is free belongs to no live pull, so ``system check
--repair`` may delete it and ``system df`` counts it as reclaimable.
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass

from ..store.locks import try_lock_path
from . import formats as fmt

__all__ = ["BlobLock", "DownloadFile", "download_files", "LOCK_SUFFIX"]

LOCK_SUFFIX = ".lock"
# push's scratch files share the dir; they are its own (removed when it ends) and never a pull's.
_PUSH_PREFIX = ".push-"


class BlobLock:
    """An exclusive lock on one blob's downloads; any thread may release it (it is a plain fd, not an RLock)."""

    def __init__(self, downloads: str, blob_hex: str) -> None:
        self.path = os.path.join(downloads, blob_hex + LOCK_SUFFIX)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)  # a second pull of the same blob waits, then resumes or reuses it
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False  # a repair or a finished pull unlinked it meanwhile: lock the new one
            if same:
                self._fd = fd
                return
            os.close(fd)

    def release(self, unlink: bool) -> None:
        """Unlock; ``unlink`` when the blob's files are gone (nothing is left for the lock to guard)."""
        if self._fd < 0:
            return
        if unlink:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
        os.close(self._fd)
        self._fd = -1


@dataclass(frozen=True)
class DownloadFile:
    """One file of the download dir, and whether a live pull holds it."""

    path: str
    size: int
    held: bool


def download_files(root: str) -> list[DownloadFile]:
    """Blobs, partial blobs and lock files in the download dir (push's scratch files excluded)."""
    directory = os.path.join(root, fmt.DOWNLOADS_DIR)
    try:
        names = sorted(os.listdir(directory))
    except FileNotFoundError:
        return []
    out = []
    for name in names:
        if name.startswith(_PUSH_PREFIX) or name.startswith(".tmp-"):
            continue
        blob_hex = name.removesuffix(LOCK_SUFFIX).removesuffix(fmt.PARTIAL_SUFFIX)
        path = os.path.join(directory, name)
        try:
            size = os.lstat(path).st_size if not name.endswith(LOCK_SUFFIX) else 0
        except FileNotFoundError:
            continue
        out.append(DownloadFile(path, size, _held(os.path.join(directory, blob_hex + LOCK_SUFFIX))))
    return out


def _held(lock_path: str) -> bool:
    fd = try_lock_path(lock_path)
    if fd is None:
        return os.path.exists(lock_path)
    os.close(fd)
    return False
