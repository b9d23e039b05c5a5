"""Unpack a build context tar into a private dir as if that dir were ``/``, touching nothing outside it.

Docker's daemon unpacks a context in a chroot: every name, ``..`` and link is
resolved inside the context, so ``/etc/x`` and ``../../etc/x`` both land in
``<context>/etc/x``, a hard link to ``/etc/shadow`` names the context's own
(missing) ``etc/shadow`` and fails, and a file under a symlink to ``/tmp``
goes to the context's ``tmp``. Here the same holds without a chroot, and
without tarfile's extraction filters (their rules differ between Python
3.11.2, 3.11.4+ and 3.12): every entry is made relative to an fd of its real
parent dir, each component opened with ``O_NOFOLLOW`` and symlinks followed by
hand inside the root, and owners, modes and times are set on an fd we opened
or with ``follow_symlinks=False``, never through a link.
"""

from __future__ import annotations

import errno
import os
import posixpath
import shutil
import stat
import tarfile
import threading
from typing import IO

from ..errors import Cancelled

__all__ = ["unpack_context"]

_CHUNK = 1 << 20
_MAX_SYMLINKS = 40  # Linux's MAXSYMLINKS
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_PARENT_MODE = 0o755  # Docker's MkdirAll of a missing parent


class UntarError(Exception):
    """One entry could not be made; the message names tar paths only (``/x``), never the host's."""


def clean_name(name: str) -> str:
    """A tar name relative to the root, ``..`` clamped at it as in a chroot ("" for the root itself)."""
    return posixpath.normpath("/" + name).lstrip("/")


class _Root:
    """The destination, opened once; walks below it by fd."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, _DIR_FLAGS)

    def close(self) -> None:
        os.close(self.fd)

    def parent(self, rel: str, *, create: bool) -> int:
        """An fd of the real dir that holds ``rel`` (symlinks followed inside the root; missing dirs made)."""
        return self._walk(posixpath.dirname(rel), create, rel)

    def _walk(self, rel_dir: str, create: bool, shown: str) -> int:
        pending = [p for p in rel_dir.split("/") if p]
        stack = [os.dup(self.fd)]
        followed = 0
        try:
            while pending:
                part = pending.pop(0)
                if part == ".":
                    continue
                if part == "..":
                    if len(stack) > 1:
                        os.close(stack.pop())
                    continue
                try:
                    stack.append(os.open(part, _DIR_FLAGS, dir_fd=stack[-1]))
                    continue
                except FileNotFoundError:
                    if not create:
                        raise UntarError(f"/{shown}: no such file or directory") from None
                    os.mkdir(part, _NEW_PARENT_MODE, dir_fd=stack[-1])
                    stack.append(os.open(part, _DIR_FLAGS, dir_fd=stack[-1]))
                    continue
                except OSError as err:
                    if err.errno not in (errno.ELOOP, errno.ENOTDIR):
                        raise
                st = os.stat(part, dir_fd=stack[-1], follow_symlinks=False)
                if not stat.S_ISLNK(st.st_mode):
                    raise UntarError(f"/{shown}: not a directory") from None
                followed += 1
                if followed > _MAX_SYMLINKS:
                    raise UntarError(f"/{shown}: too many levels of symbolic links")
                target = os.readlink(part, dir_fd=stack[-1])
                if target.startswith("/"):
                    while len(stack) > 1:
                        os.close(stack.pop())
                pending = [p for p in target.split("/") if p] + pending
            top = stack.pop()
            return top
        finally:
            for fd in stack:
                os.close(fd)


def _lstat(name: str, dir_fd: int) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def _make_room(name: str, dir_fd: int, *, for_dir: bool) -> bool:
    """Remove what is at ``name`` unless it is a dir and a dir is wanted (Docker's rule); True if a dir stays."""
    st = _lstat(name, dir_fd)
    if st is None:
        return False
    if stat.S_ISDIR(st.st_mode):
        if for_dir:
            return True
        shutil.rmtree(name, dir_fd=dir_fd)
    else:
        os.unlink(name, dir_fd=dir_fd)
    return False


def _set_owner_mode(fd: int, member: tarfile.TarInfo) -> None:
    """Owner first (chown clears set-id bits), then the mode: both on our own fd."""
    os.fchown(fd, member.uid, member.gid)
    os.fchmod(fd, member.mode & 0o7777)


def _times(member: tarfile.TarInfo) -> tuple[int, int]:
    ns = int(member.mtime * 1_000_000_000)
    return ns, ns


class _Extractor:
    def __init__(self, root: _Root) -> None:
        self.root = root
        self.dirs: list[tuple[str, tarfile.TarInfo]] = []

    def add(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        rel = clean_name(member.name)
        if not rel:
            return  # "./": the root itself keeps its own owner and mode
        if member.islnk():
            self._hardlink(rel, member)
            return
        parent = self.root.parent(rel, create=True)
        try:
            self._make(tar, member, rel, posixpath.basename(rel), parent)
        finally:
            os.close(parent)

    def _make(self, tar: tarfile.TarFile, member: tarfile.TarInfo, rel: str, name: str, parent: int) -> None:
        if member.isdir():
            if not _make_room(name, parent, for_dir=True):
                os.mkdir(name, 0o700, dir_fd=parent)
            fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
            try:
                _set_owner_mode(fd, member)
            finally:
                os.close(fd)
            self.dirs.append((rel, member))
            return
        _make_room(name, parent, for_dir=False)
        if member.issym():
            os.symlink(member.linkname, name, dir_fd=parent)
            os.chown(name, member.uid, member.gid, dir_fd=parent, follow_symlinks=False)
            os.utime(name, ns=_times(member), dir_fd=parent, follow_symlinks=False)
        elif member.isreg():
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                         dir_fd=parent)
            try:
                _copy(tar.extractfile(member), fd)
                _set_owner_mode(fd, member)
                os.utime(fd, ns=_times(member))
            finally:
                os.close(fd)
        elif member.isfifo() or member.ischr() or member.isblk():
            kind = stat.S_IFIFO if member.isfifo() else stat.S_IFCHR if member.ischr() else stat.S_IFBLK
            rdev = 0 if member.isfifo() else os.makedev(member.devmajor, member.devminor)
            os.mknod(name, kind | 0o600, rdev, dir_fd=parent)
            os.chown(name, member.uid, member.gid, dir_fd=parent, follow_symlinks=False)
            # No O_PATH fchmod in Python: the node was just made by us in a dir only we write, not a link.
            os.chmod(name, member.mode & 0o7777, dir_fd=parent, follow_symlinks=True)
            os.utime(name, ns=_times(member), dir_fd=parent, follow_symlinks=False)
        # Other types (GNU sparse headers aside, which tarfile turns into files) carry nothing to unpack.

    def _hardlink(self, rel: str, member: tarfile.TarInfo) -> None:
        """A link to an entry already unpacked here: its target resolved inside the root, never followed."""
        target = clean_name(member.linkname)
        shown = f"link /{target} /{rel}"
        if not target:
            raise UntarError(f"{shown}: operation not permitted")
        try:
            source_dir = self.root.parent(target, create=False)
        except UntarError:
            raise UntarError(f"{shown}: no such file or directory") from None
        try:
            st = _lstat(posixpath.basename(target), source_dir)
            if st is None:
                raise UntarError(f"{shown}: no such file or directory")
            if stat.S_ISDIR(st.st_mode):
                raise UntarError(f"{shown}: operation not permitted")
            parent = self.root.parent(rel, create=True)
            try:
                _make_room(posixpath.basename(rel), parent, for_dir=False)
                os.link(posixpath.basename(target), posixpath.basename(rel), src_dir_fd=source_dir,
                        dst_dir_fd=parent, follow_symlinks=False)
            finally:
                os.close(parent)
        finally:
            os.close(source_dir)

    def finish(self) -> None:
        """Directory times last (unpacking their entries moved them), deepest first."""
        for rel, member in reversed(self.dirs):
            try:
                parent = self.root.parent(rel, create=False)
            except UntarError:
                continue  # replaced by a later entry
            try:
                st = _lstat(posixpath.basename(rel), parent)
                if st is not None and stat.S_ISDIR(st.st_mode):
                    os.utime(posixpath.basename(rel), ns=_times(member), dir_fd=parent, follow_symlinks=False)
            finally:
                os.close(parent)


def _copy(source: IO[bytes] | None, fd: int) -> None:
    if source is None:
        return
    while chunk := source.read(_CHUNK):
        view = memoryview(chunk)
        while view:
            view = view[os.write(fd, view):]


def unpack_context(tar: tarfile.TarFile, dest: str, cancel: threading.Event | None = None) -> None:
    """Unpack every member of the (streamed) ``tar`` into ``dest``, an empty dir of our own.

    Raises:
        UntarError: an entry cannot be made inside ``dest`` (a hard link to nothing unpacked, a file
            where a dir is needed); the message names tar paths only.
        tarfile.TarError, OSError: a broken tar or a failing write.
        Cancelled: ``cancel`` was set.
    """
    root = _Root(dest)
    try:
        extractor = _Extractor(root)
        for member in tar:
            if cancel is not None and cancel.is_set():
                raise Cancelled("build cancelled")
            extractor.add(tar, member)
        extractor.finish()
    finally:
        root.close()
