"""Write a directory (plain, or an overlay upper dir) as a layer tar, byte-identical for the same tree."""

from __future__ import annotations

import errno
import os
import stat
import tarfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from ..errors import ArchiveError, Cancelled
from .digest import HashingWriter
from .formats import (
    BLOCK_SIZE,
    COPY_BUFSIZE,
    END_OF_ARCHIVE,
    OVERLAY_OPAQUE_VALUE,
    OVERLAY_OPAQUE_XATTR,
    OVERLAY_XATTR_PREFIX,
    PAX_XATTR_PREFIX,
    WHITEOUT_OPAQUE_DIR,
    WHITEOUT_PREFIX,
)

__all__ = ["WriteResult", "write_layer"]

# A whiteout in a tar is an empty file readable by its owner only, as Docker writes it.
_WHITEOUT_MODE = 0o600


@dataclass(frozen=True)
class WriteResult:
    """What ``write_layer`` wrote."""

    diff_id: str
    """``sha256:<hex>`` of the tar stream: the layer's diffID."""
    tar_size: int
    """Bytes in the tar stream."""


def write_layer(
    src_dir: str, out: BinaryIO, *, upper: bool = True, cancel: threading.Event | None = None
) -> WriteResult:
    """Write ``src_dir`` to ``out`` as an uncompressed PAX layer tar and return its diffID.

    Entries come in a fixed order (names sorted within each dir, a dir before
    its contents), with mtimes truncated to seconds and no user or group names,
    so the same tree always gives the same bytes. With ``upper`` the dir is an
    overlay upper dir: whiteout devices become ``.wh.<name>`` files and opaque
    dirs get a ``.wh..wh..opq`` entry. Sockets are left out, as Docker does.

    Raises:
        Cancelled: ``cancel`` was set; ``out`` holds a partial tar.
        ArchiveError: a file changed size while it was being read.
    """
    sink = HashingWriter(out)
    links: dict[tuple[int, int], str] = {}
    for rel, st in _walk(src_dir):
        if cancel is not None and cancel.is_set():
            raise Cancelled("cancelled")
        path = os.path.join(src_dir, rel)
        for info in _headers(path, rel, st, upper, links):
            sink.write(info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"))
            if info.isreg() and info.size:
                _copy_data(path, info, sink, src_dir)
    sink.write(END_OF_ARCHIVE)
    return WriteResult(sink.digest, sink.size)


def _walk(root: str) -> Iterator[tuple[str, os.stat_result]]:
    """``(relative path, lstat)`` for everything below ``root``, depth first, names sorted per dir."""
    stack = sorted(os.listdir(root), reverse=True)
    while stack:
        rel = stack.pop()
        st = os.lstat(os.path.join(root, rel))
        yield rel, st
        if stat.S_ISDIR(st.st_mode):
            children = sorted(os.listdir(os.path.join(root, rel)), reverse=True)
            stack.extend(f"{rel}/{name}" for name in children)


def _headers(
    path: str, rel: str, st: os.stat_result, upper: bool, links: dict[tuple[int, int], str]
) -> list[tarfile.TarInfo]:
    """The tar headers for one file: none for a socket, two for an opaque dir."""
    mode = st.st_mode
    if upper and stat.S_ISCHR(mode) and st.st_rdev == 0:
        return [_whiteout(rel, st)]
    if stat.S_ISSOCK(mode):
        return []
    info = _base_info(rel, st)
    xattrs = _xattrs(path)
    opaque = xattrs.pop(OVERLAY_OPAQUE_XATTR, None) == OVERLAY_OPAQUE_VALUE
    info.pax_headers = {PAX_XATTR_PREFIX + k: v.decode("utf-8", "surrogateescape") for k, v in xattrs.items()}
    key = (st.st_dev, st.st_ino)
    if not stat.S_ISDIR(mode) and st.st_nlink > 1 and key in links:
        info.type, info.linkname = tarfile.LNKTYPE, links[key]
        return [info]
    if not stat.S_ISDIR(mode) and st.st_nlink > 1:
        links[key] = rel
    _set_type(info, path, st)
    if upper and opaque and info.isdir():
        return [info, _opaque_marker(rel, st)]
    return [info]


def _base_info(rel: str, st: os.stat_result) -> tarfile.TarInfo:
    info = tarfile.TarInfo(rel)
    info.mode = stat.S_IMODE(st.st_mode)
    info.uid, info.gid = st.st_uid, st.st_gid
    info.mtime = st.st_mtime_ns // 1_000_000_000
    info.uname = info.gname = ""
    return info


def _set_type(info: tarfile.TarInfo, path: str, st: os.stat_result) -> None:
    mode = st.st_mode
    if stat.S_ISREG(mode):
        info.type, info.size = tarfile.REGTYPE, st.st_size
    elif stat.S_ISDIR(mode):
        info.type = tarfile.DIRTYPE
    elif stat.S_ISLNK(mode):
        info.type, info.linkname = tarfile.SYMTYPE, os.readlink(path)
    elif stat.S_ISFIFO(mode):
        info.type = tarfile.FIFOTYPE
    else:
        info.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
        info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)


def _whiteout(rel: str, st: os.stat_result) -> tarfile.TarInfo:
    """overlayfs marks a deletion with a 0/0 char device (often one inode shared by many names)."""
    head, _, name = rel.rpartition("/")
    info = _base_info(os.path.join(head, WHITEOUT_PREFIX + name), st)
    info.mode = _WHITEOUT_MODE
    return info


def _opaque_marker(rel: str, st: os.stat_result) -> tarfile.TarInfo:
    info = _base_info(f"{rel}/{WHITEOUT_OPAQUE_DIR}", st)
    info.mode = stat.S_IMODE(st.st_mode) & 0o777
    return info


def _xattrs(path: str) -> dict[str, bytes]:
    """Every xattr but overlayfs' own bookkeeping (the opaque flag is kept for the caller), sorted by name."""
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError as err:
        if err.errno == errno.ENOTSUP:  # a filesystem without xattrs has none to copy
            return {}
        raise
    keep = sorted(n for n in names if not n.startswith(OVERLAY_XATTR_PREFIX) or n == OVERLAY_OPAQUE_XATTR)
    return {name: os.getxattr(path, name, follow_symlinks=False) for name in keep}


def _copy_data(path: str, info: tarfile.TarInfo, sink: HashingWriter, src_dir: str) -> None:
    """Exactly ``info.size`` bytes of the file, then zeros up to the next block."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        remaining = info.size
        while remaining:
            chunk = os.read(fd, min(remaining, COPY_BUFSIZE))
            if not chunk:
                raise ArchiveError(f"{src_dir}: {info.name} shrank while it was being archived")
            sink.write(chunk)
            remaining -= len(chunk)
    finally:
        os.close(fd)
    padding = -info.size % BLOCK_SIZE
    if padding:
        sink.write(b"\0" * padding)
