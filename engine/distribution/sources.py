"""Where ``load`` reads an archive from: a directory (an OCI layout) or a tar of one."""

from __future__ import annotations

import os
import posixpath
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, BinaryIO, Protocol

from ..archive import UNCOMPRESSED, open_maybe_compressed
from ..errors import ArchiveError

__all__ = ["ArchiveSource", "DirSource", "TarSource", "open_source"]

_MAX_LINKS = 8
_CONFIG_LIMIT = 64 << 20  # manifests, indexes and configs are small; refuse to buffer a huge "config"


class ArchiveSource(Protocol):
    """Named files inside a saved archive."""

    def exists(self, name: str) -> bool: ...

    def size(self, name: str) -> int: ...

    def open(self, name: str) -> IO[bytes]: ...


def clean_name(name: str) -> str:
    """A member name relative to the archive root; refuses names that climb out of it."""
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if name.startswith("/") or ".." in parts:
        raise ArchiveError(f"archive names a file outside itself: {name!r}")
    return "/".join(parts)


def read_small(source: ArchiveSource, name: str) -> bytes:
    """The whole of a small member (a manifest, index or config)."""
    if source.size(name) > _CONFIG_LIMIT:
        raise ArchiveError(f"{name}: {source.size(name)} bytes is too large for a manifest or config")
    with source.open(name) as f:
        return f.read()


class DirSource:
    """An OCI image layout (or unpacked docker-archive) directory."""

    def __init__(self, root: str) -> None:
        self.root = root

    def _path(self, name: str) -> str:
        """The file's path; a symlink may point elsewhere in the layout, never out of it."""
        path = os.path.join(self.root, clean_name(name))
        real, root = os.path.realpath(path), os.path.realpath(self.root)
        if os.path.commonpath([real, root]) != root:
            raise ArchiveError(f"{name} in {self.root} links to a file outside the layout")
        return path

    def exists(self, name: str) -> bool:
        return os.path.isfile(self._path(name))

    def size(self, name: str) -> int:
        return os.path.getsize(self._path(name))

    def open(self, name: str) -> IO[bytes]:
        try:
            return open(self._path(name), "rb")
        except OSError as err:
            raise ArchiveError(f"{name}: {err.strerror} in {self.root}") from err


class TarSource:
    """A tar file on disk, indexed once; members are read in place."""

    def __init__(self, fileobj: BinaryIO, label: str) -> None:
        self.label = label
        try:
            self._tar = tarfile.open(fileobj=fileobj, mode="r:")  # noqa: SIM115 (reads fileobj, which the caller owns)
            self._members = {clean_name(m.name): m for m in self._tar.getmembers()
                             if m.isreg() or m.issym() or m.islnk()}
        except (tarfile.TarError, EOFError, OSError) as err:
            raise ArchiveError(f"{label}: not a readable tar archive ({err})") from err

    def exists(self, name: str) -> bool:
        return clean_name(name) in self._members

    def size(self, name: str) -> int:
        return self._member(name).size

    def open(self, name: str) -> IO[bytes]:
        stream = self._tar.extractfile(self._member(name))
        if stream is None:
            raise ArchiveError(f"{self.label}: {name} is not a regular file")
        return stream

    def _member(self, name: str) -> tarfile.TarInfo:
        """The regular file ``name`` is, following links inside the archive (``docker save`` before 25
        wrote a layer shared by two images once, and a symlink to it in the other image's dir)."""
        current = clean_name(name)
        for _ in range(_MAX_LINKS):
            member = self._members.get(current)
            if member is None:
                raise ArchiveError(f"{self.label}: {name} is missing from the archive")
            if member.isreg():
                return member
            base = posixpath.dirname(current) if member.issym() else ""
            current = clean_name(posixpath.normpath(posixpath.join(base, member.linkname)))
        raise ArchiveError(f"{self.label}: {name}: too many levels of links")


@contextmanager
def open_source(path: str | None, stdin: BinaryIO, scratch: str) -> Iterator[ArchiveSource]:
    """A directory as is; a plain tar file in place; stdin or a compressed tar spooled to ``scratch`` first."""
    if path is not None and os.path.isdir(path):
        yield DirSource(path)
        return
    label = path or "<stdin>"
    try:
        f = open(path, "rb") if path is not None else stdin  # noqa: SIM115 (closed in finally)
    except OSError as err:
        raise ArchiveError(f"{path}: {err.strerror}") from err
    try:
        with _seekable_plain(f, label, scratch) as plain:
            yield TarSource(plain, label)
    finally:
        if path is not None:
            f.close()


@contextmanager
def _seekable_plain(f: BinaryIO, label: str, scratch: str) -> Iterator[BinaryIO]:
    """``f`` itself when it is a seekable uncompressed tar; otherwise its uncompressed bytes in a temp file."""
    seekable = f.seekable() if hasattr(f, "seekable") else False
    if seekable:
        start = f.tell()
        compression = open_maybe_compressed(f, label).compression
        f.seek(start)
        if compression == UNCOMPRESSED:
            yield f
            return
    os.makedirs(scratch, exist_ok=True)
    with tempfile.TemporaryFile(dir=scratch) as spool:
        shutil.copyfileobj(open_maybe_compressed(f, label), spool, 1 << 20)
        spool.seek(0)
        yield spool
