"""The entries ``cp`` moves, read from a tree or a tar and written to a tree or a tar, never through a link.

Both sides of a copy can be controlled by the container: the tree read (its
files may be links, fifos, devices, or change while read) and the tree written
(a link left where an entry goes). So a tree is read with ``O_PATH|O_NOFOLLOW``
fds and a regular file is reopened from its own fd, never by name (a fifo or a
device is never opened); and a tree is written below a directory fd, each
parent opened with ``O_NOFOLLOW|O_DIRECTORY`` and each entry created with
``O_EXCL|O_NOFOLLOW`` (or ``mknod``/``symlinkat``/``linkat``), after removing a
non-directory in its way, as Docker's untar does. A regular file gives at most
the size it had when it was listed, so a growing file cannot fill the disk.
"""

from __future__ import annotations

import errno
import io
import os
import stat
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, BinaryIO

from ..archive.apply import clean_name
from ..errors import InvalidArgument

__all__ = ["Entry", "TreeWriter", "read_tree", "read_tar", "write_tar", "CopyRefused", "reopen"]

_CHUNK = 1 << 20
_KINDS = {stat.S_IFDIR: "dir", stat.S_IFREG: "file", stat.S_IFLNK: "symlink", stat.S_IFIFO: "fifo",
          stat.S_IFCHR: "chr", stat.S_IFBLK: "blk"}
_NODE_TYPES = {"fifo": stat.S_IFIFO, "chr": stat.S_IFCHR, "blk": stat.S_IFBLK}


class CopyRefused(InvalidArgument):
    """An entry cannot be copied; the message names it by its path as the user wrote it."""


@dataclass
class Entry:
    """One file of a copy, at ``parts`` below the copy's top (``()`` is the top itself)."""

    parts: tuple[str, ...]
    kind: str
    """dir, file, symlink, hardlink, fifo, chr or blk."""
    mode: int
    uid: int
    gid: int
    mtime_ns: int
    size: int = 0
    link: str = ""
    """A symlink's target, or a hard link's first name (parts joined with /) below the top."""
    rdev: int = 0
    data: Callable[[], IO[bytes]] | None = None
    """Opens a regular file's content; read at most ``size`` bytes of it."""


# -- reading a tree ------------------------------------------------------------


def read_tree(top_fd: int) -> Iterator[Entry]:
    """The entries of the file or tree ``top_fd`` (an ``O_PATH`` fd, not followed), dirs before their contents.

    Sockets are left out, as Docker's tar leaves them out. Hard-linked files
    after the first are hard links. ``top_fd`` stays the caller's. The walk is
    a loop over a stack of open directories, so a tree nested thousands deep
    costs fds (EMFILE ends it with one error), never Python's recursion limit.
    """
    links: dict[tuple[int, int], tuple[str, ...]] = {}
    entry = _entry(top_fd, (), links)
    if entry is None:
        return
    yield entry
    if entry.kind != "dir":
        return
    stack: list[tuple[int, tuple[str, ...], Iterator[str]]] = []
    try:
        stack.append(_listed(top_fd, ()))
        while stack:
            dir_fd, parts, names = stack[-1]
            name = next(names, None)
            if name is None:
                os.close(stack.pop()[0])
                continue
            try:
                child = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
            except FileNotFoundError:
                continue  # removed meanwhile (a running container)
            try:
                entry = _entry(child, parts + (name,), links)
                if entry is None:
                    continue
                yield entry  # a file's data is read from ``child`` while it is still open
                if entry.kind == "dir":
                    stack.append(_listed(child, entry.parts))
            finally:
                os.close(child)
    finally:
        for dir_fd, _, _ in stack:
            os.close(dir_fd)


def _listed(fd: int, parts: tuple[str, ...]) -> tuple[int, tuple[str, ...], Iterator[str]]:
    """The directory behind an ``O_PATH`` fd opened for reading, with its names sorted."""
    dir_fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=fd)
    try:
        return dir_fd, parts, iter(sorted(os.listdir(dir_fd)))
    except BaseException:
        os.close(dir_fd)
        raise


def _entry(fd: int, parts: tuple[str, ...], links: dict[tuple[int, int], tuple[str, ...]]) -> Entry | None:
    st = os.fstat(fd)
    kind = _KINDS.get(stat.S_IFMT(st.st_mode))
    if kind is None:
        return None  # a socket
    entry = Entry(parts, kind, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_mtime_ns)
    if kind == "file":
        key = (st.st_dev, st.st_ino)
        if st.st_nlink > 1 and key in links:
            entry.kind, entry.link = "hardlink", "/".join(links[key])
        else:
            if st.st_nlink > 1:
                links[key] = parts
            entry.size, entry.data = st.st_size, lambda: reopen(fd, st)
    elif kind == "symlink":
        entry.link = os.readlink("", dir_fd=fd)
    elif kind in ("chr", "blk"):
        entry.rdev = st.st_rdev
    return entry


def reopen(path_fd: int, listed: os.stat_result) -> IO[bytes]:
    """The regular file behind an ``O_PATH`` fd, opened for reading through that fd (never by name)."""
    fd = os.open(f"/proc/self/fd/{path_fd}", os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK | os.O_CLOEXEC)
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != (listed.st_dev, listed.st_ino):
        os.close(fd)
        raise OSError(errno.ESTALE, os.strerror(errno.ESTALE))
    return os.fdopen(fd, "rb", buffering=0)  # a FileIO: ``_copy_data`` may hand it to the kernel


# -- reading a tar -------------------------------------------------------------


def read_tar(stream: BinaryIO, display: str = "stdin") -> Iterator[Entry]:
    """The entries of a tar stream (maybe compressed); a name climbing out of the top is refused."""
    try:
        tar = tarfile.open(fileobj=stream, mode="r|*")
        for member in tar:
            parts = clean_name(member.name)
            if parts is None:
                raise CopyRefused(f"invalid tar entry {member.name!r}: it leads outside the destination")
            if not parts:
                continue  # "." is the destination itself, which exists
            entry = Entry(parts, "", member.mode & 0o7777, member.uid, member.gid, int(member.mtime * 1_000_000_000))
            if member.isdir():
                entry.kind = "dir"
            elif member.isreg():
                entry.kind, entry.size = "file", member.size
                entry.data = lambda m=member: tar.extractfile(m)  # type: ignore[misc, return-value]
            elif member.issym():
                entry.kind, entry.link = "symlink", member.linkname
            elif member.islnk():
                target = clean_name(member.linkname)
                if not target:
                    raise CopyRefused(f"invalid tar entry {member.name!r}: its link leads outside the destination")
                entry.kind, entry.link = "hardlink", "/".join(target)
            elif member.ischr() or member.isblk() or member.isfifo():
                entry.kind = "chr" if member.ischr() else "blk" if member.isblk() else "fifo"
                entry.rdev = os.makedev(member.devmajor, member.devminor)
            else:
                continue
            yield entry
    except tarfile.TarError as err:
        raise CopyRefused(f"invalid tar on {display}: {err}") from None


# -- writing a tar ---------------------------------------------------------------


def write_tar(entries: Iterator[Entry], out: BinaryIO, top: str) -> None:
    """``entries`` as a PAX tar on ``out``, named below ``top`` (as Docker names them: the copied path's name)."""
    def name(parts: tuple[str, ...]) -> str:
        return "/".join((top, *parts)) if top else "/".join(parts) or "."

    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for entry in entries:
            info = tarfile.TarInfo(name(entry.parts))
            info.mode, info.uid, info.gid, info.mtime = entry.mode, entry.uid, entry.gid, entry.mtime_ns // 10**9
            data = None
            if entry.kind == "dir":
                info.type = tarfile.DIRTYPE
            elif entry.kind == "file":
                info.type, info.size = tarfile.REGTYPE, entry.size
                assert entry.data is not None
                data = _Exactly(entry.data(), entry.size)
            elif entry.kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, entry.link
            elif entry.kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, name(tuple(entry.link.split("/")))
            else:
                info.type = {"fifo": tarfile.FIFOTYPE, "chr": tarfile.CHRTYPE, "blk": tarfile.BLKTYPE}[entry.kind]
                info.devmajor, info.devminor = os.major(entry.rdev), os.minor(entry.rdev)
            try:
                tar.addfile(info, data)
            finally:
                if data is not None:
                    data.close()


class _Exactly:
    """Exactly ``size`` bytes of ``source``: cut when it grew, zeros when it shrank since it was listed."""

    def __init__(self, source: IO[bytes], size: int) -> None:
        self.source, self.left = source, size

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        chunks, got = [], 0
        while got < n:
            chunk = self.source.read(n - got)  # an unbuffered file may return less than asked
            if not chunk:
                chunks.append(bytes(n - got))
                break
            chunks.append(chunk)
            got += len(chunk)
        self.left -= n
        return b"".join(chunks)

    def close(self) -> None:
        self.source.close()


# -- writing a tree --------------------------------------------------------------


class TreeWriter:
    """Writes entries at ``prefix`` + their parts below the directory ``base_fd``, never through a link.

    ``owner`` gives the uid/gid an entry gets (None: left as created, for the
    host side, where Docker does not chown either). ``host`` marks the host
    side: set-id bits are dropped and device nodes made owner-only there, since
    the container chose them. ``display`` names ``base_fd`` in messages, as the user wrote it.
    """

    def __init__(self, base_fd: int, prefix: tuple[str, ...], display: str, *,
                 owner: Callable[[Entry], tuple[int, int]] | None, host: bool) -> None:
        self.base_fd, self.prefix, self.display = base_fd, prefix, display
        self.owner, self.host = owner, host
        self.dir_times: list[tuple[tuple[str, ...], int]] = []
        self._parent: tuple[tuple[str, ...], int] | None = None
        """The last parent directory written into, still open."""

    def write_all(self, entries: Iterator[Entry]) -> None:
        try:
            for entry in entries:
                self.write(entry)
        finally:
            self._forget_parent()
        for parts, mtime in reversed(self.dir_times):
            fd = self._open_dir(parts, create=False)
            try:
                os.utime(fd, ns=(mtime, mtime))
            finally:
                os.close(fd)

    def _shown(self, parts: tuple[str, ...]) -> str:
        return "/".join((self.display.rstrip("/"), *parts)) if parts else self.display

    def write(self, entry: Entry) -> None:
        parts = self.prefix + entry.parts
        if any(part in ("", ".", "..") or "/" in part or "\0" in part for part in parts):
            raise CopyRefused(f"invalid name {'/'.join(parts)!r}")  # ".." from a dir fd would climb out of it
        if not parts:
            if entry.kind != "dir":
                raise CopyRefused(f"cannot overwrite directory {self._shown(())} with non-directory")
            return  # the destination directory itself: it exists and keeps its metadata
        if self._parent is None or self._parent[0] != parts[:-1]:
            self._forget_parent()  # entries come a directory at a time: one walk serves its files
            self._parent = (parts[:-1], self._open_dir(parts[:-1], create=True))
        self._create(self._parent[1], parts, entry)

    def _forget_parent(self) -> None:
        if self._parent is not None:
            os.close(self._parent[1])
            self._parent = None

    def _open_dir(self, parts: tuple[str, ...], *, create: bool) -> int:
        """A real directory at ``parts`` below the base (missing ones made 0755, as Docker's untar makes them)."""
        fd = os.dup(self.base_fd)
        try:
            for depth, part in enumerate(parts):
                try:
                    nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise
                    os.mkdir(part, 0o755, dir_fd=fd)
                    nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
                    os.fchmod(nxt, 0o755)
                except OSError as err:
                    if err.errno in (errno.ELOOP, errno.ENOTDIR):
                        raise CopyRefused(f"cannot copy into {self._shown(parts[:depth + 1])}: "
                                          "not a directory (a link is never followed)") from None
                    raise
                os.close(fd)
                fd = nxt
            return fd
        except BaseException:
            os.close(fd)
            raise

    def _create(self, parent: int, parts: tuple[str, ...], entry: Entry) -> None:
        name = parts[-1]
        try:
            old = os.stat(name, dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError:
            old = None
        if old is not None and stat.S_ISDIR(old.st_mode):
            if entry.kind != "dir":
                raise CopyRefused(f"cannot overwrite directory {self._shown(parts)} with non-directory")
        elif old is not None:
            if entry.kind == "dir":
                raise CopyRefused(f"cannot overwrite non-directory {self._shown(parts)} with directory")
            os.unlink(name, dir_fd=parent)  # a link (or file) in the way is replaced, never followed
        mode = entry.mode & ~0o6000 if self.host else entry.mode
        if entry.kind == "dir":
            if old is None:
                os.mkdir(name, 0o700, dir_fd=parent)
            fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
            try:
                self._own(fd, entry, mode)
            finally:
                os.close(fd)
            self.dir_times.append((parts, entry.mtime_ns))
        elif entry.kind == "file":
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                         dir_fd=parent)
            try:
                assert entry.data is not None
                with entry.data() as source:
                    _copy_data(source, fd, entry.size)
                self._own(fd, entry, mode)
                os.utime(fd, ns=(entry.mtime_ns, entry.mtime_ns))
            finally:
                os.close(fd)
        elif entry.kind == "symlink":
            os.symlink(entry.link, name, dir_fd=parent)
            if self.owner is not None:
                os.chown(name, *self.owner(entry), dir_fd=parent, follow_symlinks=False)
            os.utime(name, ns=(entry.mtime_ns, entry.mtime_ns), dir_fd=parent, follow_symlinks=False)
        elif entry.kind == "hardlink":
            target = tuple(entry.link.split("/"))
            target_parent = self._open_dir(self.prefix + target[:-1], create=False)
            try:
                os.link(target[-1], name, src_dir_fd=target_parent, dst_dir_fd=parent, follow_symlinks=False)
            finally:
                os.close(target_parent)
        else:
            if self.host and entry.kind != "fifo":
                mode &= 0o600  # a device the container chose: for the host's root only
            os.mknod(name, _NODE_TYPES[entry.kind] | 0o600, entry.rdev, dir_fd=parent)
            fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
            try:
                if stat.S_IFMT(os.fstat(fd).st_mode) != _NODE_TYPES[entry.kind]:
                    raise CopyRefused(f"{self._shown(parts)} changed while it was copied")
                node = f"/proc/self/fd/{fd}"  # the node we made, whatever now has its name
                if self.owner is not None:
                    os.chown(node, *self.owner(entry))
                os.chmod(node, mode)
                os.utime(node, ns=(entry.mtime_ns, entry.mtime_ns))
            finally:
                os.close(fd)

    def _own(self, fd: int, entry: Entry, mode: int) -> None:
        if self.owner is not None:
            os.fchown(fd, *self.owner(entry))
        os.fchmod(fd, mode)  # after chown, which clears set-id bits


def _copy_data(source: IO[bytes], fd: int, size: int) -> None:
    """``size`` bytes of ``source`` into ``fd``: no more even if it grew, zeros if it shrank."""
    left = size
    if type(source) is io.FileIO:  # our own reopened file: the kernel copies it
        while left:
            sent = os.sendfile(fd, source.fileno(), None, min(left, 1 << 30))
            if not sent:
                break
            left -= sent
        os.ftruncate(fd, size)
        return
    while left:
        chunk = source.read(min(left, _CHUNK))
        if not chunk:
            break
        view = memoryview(chunk)
        while view:
            view = view[os.write(fd, view):]
        left -= len(chunk)
    os.ftruncate(fd, size)
