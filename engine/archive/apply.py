"""Apply a (maybe compressed) layer tar to an empty layer dir, safely, in overlay form.

Safety rests on three rules. Names are normalised lexically and refused if they
climb out of the layer dir. Every parent dir of an entry is a real directory
checked with ``lstat`` (and remembered), never a symlink, so nothing is ever
written through a link. The last component is created with ``O_EXCL``/
``O_NOFOLLOW`` semantics (``mkdir``, ``mknod``, ``symlink``, ``link`` without
following). The layer dir itself must be private to this call while it runs.
"""

from __future__ import annotations

import errno
import os
import stat
import tarfile
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar

from ..errors import ArchiveError, Cancelled, UnsafeEntry
from ..store.removal import delete_tree
from .compression import open_maybe_compressed
from .digest import ByteSource, HashingReader
from .formats import (
    COPY_BUFSIZE,
    OVERLAY_OPAQUE_VALUE,
    OVERLAY_OPAQUE_XATTR,
    OVERLAY_XATTR_PREFIX,
    PAX_XATTR_PREFIX,
    WHITEOUT_META_PREFIX,
    WHITEOUT_OPAQUE_DIR,
    WHITEOUT_PREFIX,
)
from .readahead import ReadAhead
from .tarstream import ForwardStream, describe, members, open_tar

if TYPE_CHECKING:
    from _typeshed import StrPath

__all__ = ["ApplyResult", "apply_layer", "clean_name"]

_T = TypeVar("_T")
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_IMPLICIT_DIR_MODE = 0o755  # a parent the tar never names, as Docker (and GNU tar) make it


@dataclass(frozen=True)
class ApplyResult:
    """What ``apply_layer`` read and wrote."""

    diff_id: str
    """``sha256:<hex>`` of the uncompressed tar stream: the layer's diffID."""
    tar_size: int
    """Bytes in the uncompressed tar stream, trailing padding included."""
    size: int
    """Bytes of regular-file data written (a hard-linked file counts once)."""
    compression: str
    """What the input was compressed with (``"tar"`` when it was not)."""


def apply_layer(
    tar: StrPath | BinaryIO | ByteSource,
    dest_dir: str,
    *,
    archive_name: str,
    cancel: threading.Event | None = None,
    progress: Callable[[int], None] | None = None,
) -> ApplyResult:
    """Extract a layer tar into the empty dir ``dest_dir``, turning whiteouts into overlay form.

    ``tar`` is a path or a readable stream (a pipe or stdin is fine); gzip,
    bzip2, xz and zstd are recognised by content. ``.wh.<name>`` becomes a 0/0
    char device ``<name>``; ``.wh..wh..opq`` sets ``trusted.overlay.opaque=y``
    on its dir. Owners, modes, mtimes, xattrs, devices, fifos and links are
    restored. ``progress`` gets the uncompressed bytes read so far, per entry.

    On any error ``dest_dir`` is left half-applied: the caller removes it.

    Raises:
        UnsafeEntry: an entry would reach outside ``dest_dir``; nothing outside was touched.
        ArchiveError: the input is not a tar, is truncated or corrupt.
        Cancelled: ``cancel`` was set.
    """
    if isinstance(tar, (str, os.PathLike)):
        with open(tar, "rb") as f:
            return apply_layer(f, dest_dir, archive_name=archive_name, cancel=cancel, progress=progress)
    decompressed = open_maybe_compressed(tar, archive_name)
    hashed = HashingReader(decompressed)
    extractor = _Extractor(os.path.abspath(dest_dir), archive_name)
    try:
        with ReadAhead(hashed) as ahead:
            _extract_all(ForwardStream(ahead), extractor, cancel, progress)
            while ahead.read():
                pass  # trailing padding is part of the diffID, as Docker counts it
    except tarfile.TarError as err:
        raise ArchiveError(f"{archive_name}: {describe(err)}") from err
    extractor.finish()
    return ApplyResult(hashed.digest, hashed.size, extractor.written, decompressed.compression)


def _extract_all(
    stream: ForwardStream,
    extractor: _Extractor,
    cancel: threading.Event | None,
    progress: Callable[[int], None] | None,
) -> None:
    tar = open_tar(stream, extractor.archive)
    for member in members(tar, extractor.archive):
        if cancel is not None and cancel.is_set():
            raise Cancelled("cancelled")
        extractor.extract(member, tar)
        if progress is not None:
            progress(stream.tell())


# -- writing the layer dir ---------------------------------------------------


def clean_name(name: str) -> tuple[str, ...] | None:
    """The components of a tar member's ``name`` relative to its top, or None if it climbs out of it."""
    parts: list[str] = []
    if "\0" in name:
        return None
    for part in name.split("/"):
        if part == "..":
            if not parts:
                return None
            parts.pop()
        elif part and part != ".":
            parts.append(part)
    return tuple(parts)


def _escapes(link_rel: str, target: str) -> bool:
    """Whether a symlink at ``link_rel`` pointing at ``target`` leads out of the layer, read lexically."""
    if target.startswith("/"):
        return True
    return clean_name(f"{link_rel}/../{target}") is None


class _Extractor:
    """Creates the entries of one tar below ``dest``; see the module docstring for the rules."""

    def __init__(self, dest: str, archive: str) -> None:
        self.dest = dest
        self.archive = archive
        self.dirs: set[str] = {""}
        """Relative paths known to be real directories (not symlinks) that we made or checked."""
        self.dir_times: dict[str, float] = {}
        """Dir mtimes, set last: creating entries inside a dir would change it."""
        self.written = 0
        """Regular-file bytes written so far."""

    def extract(self, member: tarfile.TarInfo, tar: tarfile.TarFile) -> None:
        parts = clean_name(member.name)
        if parts is None:
            raise UnsafeEntry(self.archive, member.name)
        if WHITEOUT_META_PREFIX in member.name and any(p.startswith(WHITEOUT_META_PREFIX) for p in parts[:-1]):
            return  # inside AUFS metadata (.wh..wh.plnk/…): not part of the tree
        base = parts[-1] if parts else ""
        if base.startswith(WHITEOUT_PREFIX):
            self._whiteout(member, parts)
        elif member.isdir():
            self._dir(member, "/".join(parts))
        elif not parts:
            raise UnsafeEntry(self.archive, member.name)  # only a dir may stand for the layer root
        elif member.isreg():
            self._file(member, "/".join(parts), tar)
        else:
            self._special(member, "/".join(parts))

    def finish(self) -> None:
        """Set dir mtimes, now that nothing more is created inside them."""
        for rel, mtime in self.dir_times.items():
            ns = int(mtime * 1_000_000_000)
            os.utime(self._path(rel), ns=(ns, ns), follow_symlinks=False)

    def _path(self, rel: str) -> str:
        return os.path.join(self.dest, rel) if rel else self.dest

    # -- entry kinds

    def _dir(self, member: tarfile.TarInfo, rel: str) -> None:
        if rel:
            self._ensure_dir(rel.rpartition("/")[0], member.name)
            if rel not in self.dirs:
                self._create(rel, lambda p: os.mkdir(p, 0o700))
                self.dirs.add(rel)
        path = self._path(rel)
        os.chown(path, member.uid, member.gid, follow_symlinks=False)
        os.chmod(path, member.mode)
        self._set_xattrs(path, member)
        self.dir_times[rel] = member.mtime

    def _file(self, member: tarfile.TarInfo, rel: str, tar: tarfile.TarFile) -> None:
        self._ensure_dir(rel.rpartition("/")[0], member.name)
        fd = self._create(rel, lambda p: os.open(p, _NEW_FILE, 0o600))
        try:
            _copy_member(tar, member, fd)
            self.written += member.size
            os.fchown(fd, member.uid, member.gid)
            os.fchmod(fd, member.mode)  # after chown, which clears set-id bits
            self._set_xattrs(fd, member)  # after chown, which clears security.capability
            ns = int(member.mtime * 1_000_000_000)
            os.utime(fd, ns=(ns, ns))
        finally:
            os.close(fd)

    def _special(self, member: tarfile.TarInfo, rel: str) -> None:
        self._ensure_dir(rel.rpartition("/")[0], member.name)
        if member.islnk():
            target = self._link_target(member)
            self._create(rel, lambda p: os.link(target, p, follow_symlinks=False))
            return  # same inode as the target, whose metadata is already set
        if member.issym():
            self._create(rel, lambda p: os.symlink(member.linkname, p))
        elif member.ischr() or member.isblk() or member.isfifo():
            kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK if member.isblk() else stat.S_IFIFO
            device = os.makedev(member.devmajor, member.devminor)
            self._create(rel, lambda p: os.mknod(p, kind | 0o600, device))
        else:
            raise ArchiveError(f"{self.archive}: {member.name}: unsupported entry type {member.type!r}")
        self._finish_node(self._path(rel), member, chmod=not member.issym())

    def _whiteout(self, member: tarfile.TarInfo, parts: tuple[str, ...]) -> None:
        parent = "/".join(parts[:-1])
        base = parts[-1]
        self._ensure_dir(parent, member.name)
        if base == WHITEOUT_OPAQUE_DIR:
            os.setxattr(self._path(parent), OVERLAY_OPAQUE_XATTR, OVERLAY_OPAQUE_VALUE, follow_symlinks=False)
            return
        if base.startswith(WHITEOUT_META_PREFIX):
            return  # AUFS metadata (.wh..wh.plnk, .wh..wh.aufs): not a deletion
        name = base[len(WHITEOUT_PREFIX) :]
        if name in ("", ".", ".."):
            raise UnsafeEntry(self.archive, member.name)
        rel = f"{parent}/{name}" if parent else name
        self._create(rel, lambda p: os.mknod(p, stat.S_IFCHR, os.makedev(0, 0)))
        path = self._path(rel)
        os.chown(path, member.uid, member.gid, follow_symlinks=False)
        ns = int(member.mtime * 1_000_000_000)
        os.utime(path, ns=(ns, ns), follow_symlinks=False)

    # -- helpers

    def _finish_node(self, path: str, member: tarfile.TarInfo, *, chmod: bool) -> None:
        os.chown(path, member.uid, member.gid, follow_symlinks=False)
        if chmod:
            os.chmod(path, member.mode)  # the node was made by us just now: not a symlink
        self._set_xattrs(path, member)
        ns = int(member.mtime * 1_000_000_000)
        os.utime(path, ns=(ns, ns), follow_symlinks=False)

    def _set_xattrs(self, target: str | int, member: tarfile.TarInfo) -> None:
        for key, value in member.pax_headers.items():
            if not key.startswith(PAX_XATTR_PREFIX):
                continue
            name = key[len(PAX_XATTR_PREFIX) :]
            if name.startswith(OVERLAY_XATTR_PREFIX):
                continue  # only whiteout entries may steer overlayfs
            try:
                raw = value.encode("utf-8", "surrogateescape")
                os.setxattr(target, name, raw, follow_symlinks=isinstance(target, int))
            except OSError as err:
                if err.errno == errno.ENOTSUP:
                    continue  # the filesystem has no such namespace; Docker drops these too
                raise ArchiveError(f"{self.archive}: {member.name}: cannot set xattr {name}: {err.strerror}") from err

    def _create(self, rel: str, make: Callable[[str], _T]) -> _T:
        """Run ``make`` on the entry's path; an earlier entry of the same name is replaced."""
        path = self._path(rel)
        try:
            return make(path)
        except FileExistsError:
            self._remove(rel, path)
            return make(path)

    def _remove(self, rel: str, path: str) -> None:
        if stat.S_ISDIR(os.lstat(path).st_mode):
            delete_tree(path)  # a loop, not a recursion: a hostile layer chooses the depth
        else:
            os.unlink(path)
        prefix = rel + "/"
        self.dirs = {d for d in self.dirs if d != rel and not d.startswith(prefix)}
        self.dir_times = {d: t for d, t in self.dir_times.items() if d != rel and not d.startswith(prefix)}

    def _ensure_dir(self, rel: str, entry: str, *, create: bool = True) -> None:
        """Make sure ``rel`` is a real directory, making missing ones; a symlink on the way is unsafe."""
        if rel in self.dirs:
            return
        parts = rel.split("/")
        known = len(parts) - 1
        while known and "/".join(parts[:known]) not in self.dirs:
            known -= 1
        for depth in range(known + 1, len(parts) + 1):
            sub = "/".join(parts[:depth])
            self._check_dir(sub, entry, create)
            self.dirs.add(sub)

    def _check_dir(self, sub: str, entry: str, create: bool) -> None:
        path = self._path(sub)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            if not create:
                raise UnsafeEntry(self.archive, entry) from None
            os.mkdir(path, _IMPLICIT_DIR_MODE)
            os.chmod(path, _IMPLICIT_DIR_MODE)  # the umask must not decide
            return
        if stat.S_ISLNK(st.st_mode):
            raise UnsafeEntry(self.archive, entry)
        if not stat.S_ISDIR(st.st_mode):
            raise ArchiveError(f"{self.archive}: {entry}: {sub} is not a directory")

    def _link_target(self, member: tarfile.TarInfo) -> str:
        """The path of an already-extracted, non-directory hard link target inside the layer."""
        parts = clean_name(member.linkname)
        if not parts:
            raise UnsafeEntry(self.archive, member.name)
        rel = "/".join(parts)
        self._ensure_dir(rel.rpartition("/")[0], member.name, create=False)
        path = self._path(rel)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            raise UnsafeEntry(self.archive, member.name) from None
        if stat.S_ISDIR(st.st_mode):
            raise UnsafeEntry(self.archive, member.name)
        if stat.S_ISLNK(st.st_mode) and _escapes(rel, os.readlink(path)):
            raise UnsafeEntry(self.archive, member.name)
        return path


def _copy_member(tar: tarfile.TarFile, member: tarfile.TarInfo, fd: int) -> None:
    """Copy a member's data from the tar stream into ``fd``, leaving holes where it is all zeros.

    Holes keep GNU sparse members sparse, and they contain a compression bomb
    of zeros: its gigabytes cost no disk.
    """
    if member.sparse is not None:
        # Rare (GNU sparse members); TarFile knows how to fill the holes.
        reader = tar.extractfile(member)
        assert reader is not None
        _write_sparse(fd, iter(lambda: reader.read(COPY_BUFSIZE), b""), member.size)
        return
    # Straight from the TarFile's stream: it buffers, so the raw source would be ahead of it.
    stream = tar.fileobj
    assert stream is not None
    stream.seek(member.offset_data)
    _write_sparse(fd, _chunks(stream, member.size), member.size)


def _chunks(stream: Any, size: int) -> Iterator[bytes]:
    remaining = size
    while remaining:
        chunk = stream.read(min(remaining, COPY_BUFSIZE))
        if not chunk:
            raise tarfile.ReadError("unexpected end of data")
        remaining -= len(chunk)
        yield chunk


def _write_sparse(fd: int, chunks: Iterable[bytes], size: int) -> None:
    for chunk in chunks:
        if chunk[:1] == b"\0" and chunk[-1:] == b"\0" and chunk.count(0) == len(chunk):
            os.lseek(fd, len(chunk), os.SEEK_CUR)
            continue
        view = memoryview(chunk)
        while view:
            view = view[os.write(fd, view) :]
    os.ftruncate(fd, size)
