"""COPY and ADD: name the sources, fingerprint them for the cache, and copy them into a mounted root.

Docker's rules: a source dir contributes its contents, not itself; a file goes
*into* the destination when that ends in ``/`` or is an existing dir, else it
*becomes* the destination; several sources need a destination ending in
``/``. ADD unpacks local tar archives (compression found by content) and
downloads URLs without unpacking them (mode 0600). Everything copied belongs to
root, or to ``--chown``; an archive's entries keep their owners unless
``--chown`` is given.

Writes never follow a link out of the root: the destination is resolved with
``resolve_in_root`` (links act as if the root were ``/``), and below it every
entry replaces whatever non-directory is in its way, as Docker's untar does.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import stat
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from ..errors import ArchiveError, BuildError
from ..runtime.rootfs import resolve_in_root
from .context import BuildContext

__all__ = ["Source", "CopyPlan", "source_digest", "copy_into", "parse_chown", "parse_chmod", "is_archive"]

_BUFSIZE = 1 << 20
_NEW_DIR_MODE = 0o755


@dataclass(frozen=True)
class Source:
    """One COPY/ADD source: a file or dir inside a tree (the context, an image root, a temp dir)."""

    tree: BuildContext
    rel: str
    """Path inside ``tree``, cleaned, symlinks resolved inside it."""
    name: str
    """The name a file gets inside a destination dir."""
    is_dir: bool
    archive: bool = False
    """ADD: unpack this tar archive into the destination."""
    mode: int | None = None
    """Permission bits to give the copy regardless of the source's (downloads get 0600)."""

    @property
    def host(self) -> str:
        return os.path.join(self.tree.root, self.rel) if self.rel != "." else self.tree.root


@dataclass(frozen=True)
class CopyPlan:
    """Everything a COPY/ADD does, decided before any layer is made."""

    sources: tuple[Source, ...]
    dest: str
    """Absolute destination inside the image."""
    dest_is_dir: bool
    """The destination ended in ``/`` (or several sources force a dir)."""
    owner: tuple[int, int] | None
    """uid, gid for what is copied; None keeps an archive's own owners (and root for other files)."""
    chmod: int | None


# -- fingerprints ------------------------------------------------------------


def _file_digest(tree: BuildContext, path: str, st: os.stat_result) -> str:
    """Content, permission bits and owner: what the copy's result depends on (never mtime)."""
    h = hashlib.sha256(f"{stat.S_IMODE(st.st_mode):o} {st.st_uid}:{st.st_gid}\n".encode())
    with tree.open_source(path) as f:
        while chunk := f.read(_BUFSIZE):
            h.update(chunk)
    return h.hexdigest()


def _entry_line(tree: BuildContext, rel: str, st: os.stat_result) -> str:
    host = os.path.join(tree.root, rel)
    kind = stat.S_IFMT(st.st_mode)
    if stat.S_ISREG(st.st_mode):
        extra = _file_digest(tree, host, st)
    elif stat.S_ISLNK(st.st_mode):
        extra = os.readlink(host)
    else:
        extra = str(st.st_rdev) if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else ""
    return f"{rel}\0{kind:o}\0{stat.S_IMODE(st.st_mode):o}\0{st.st_uid}:{st.st_gid}\0{extra}\n"


def _source_hash(source: Source) -> str:
    if not source.is_dir:
        st = os.stat(source.host)
        if not stat.S_ISREG(st.st_mode):  # a FIFO or a device node is copied as a node, never read
            line = _entry_line(source.tree, source.rel, st).split("\0", 1)[1]
            return "file:" + hashlib.sha256(line.encode()).hexdigest()
        return "file:" + _file_digest(source.tree, source.host, st)
    h = hashlib.sha256()
    prefix = len(source.rel) + 1 if source.rel != "." else 0
    for rel, st in source.tree.walk(source.rel):
        h.update(_entry_line(source.tree, rel, st)[prefix:].encode("utf-8", "surrogateescape"))
    return "dir:" + h.hexdigest()


def source_digest(sources: tuple[Source, ...]) -> str:
    """``file:<sha256>``, ``dir:<sha256>`` or ``multi:<sha256>``, as the classic builder names sources."""
    hashes = [_source_hash(s) for s in sources]
    if len(hashes) == 1:
        return hashes[0]
    return "multi:" + hashlib.sha256(",".join(hashes).encode()).hexdigest()


# -- flags -------------------------------------------------------------------


def _lookup(root: str, table: str, name: str, what: str) -> int:
    if name.isdigit():
        return int(name)
    try:
        with open(resolve_in_root(root, table), encoding="utf-8", errors="replace") as f:
            for line in f:
                fields = line.rstrip("\n").split(":")
                if len(fields) >= 3 and fields[0] == name and fields[2].isdigit():
                    return int(fields[2])
    except OSError:
        pass
    raise BuildError(f"unable to convert uid/gid chown string to host mapping: can't find {what[0]}id for "
                     f"{what} {name}: no such {what}: {name}")


def parse_chown(spec: str, root: str) -> tuple[int, int]:
    """``--chown=user[:group]`` against the image's own /etc/passwd and /etc/group; a lone user is also the group."""
    parts = spec.split(":")
    if len(parts) > 2 or not parts[0]:
        raise BuildError(f"invalid chown string format: {spec}")
    user, group = (parts[0], parts[0]) if len(parts) == 1 else (parts[0], parts[1])
    return _lookup(root, "/etc/passwd", user, "user"), _lookup(root, "/etc/group", group, "group")


def parse_chmod(spec: str) -> int:
    """``--chmod=0755``: octal permission bits only."""
    try:
        mode = int(spec, 8)
    except ValueError:
        raise BuildError(f"invalid chmod parameter {spec}: use octal digits such as 0755") from None
    if not 0 <= mode <= 0o7777:
        raise BuildError(f"invalid chmod parameter {spec}: out of range")
    return mode


def is_archive(tree: BuildContext, path: str) -> bool:
    """Whether a file is a tar (plain or compressed), judged by its content as Docker does."""
    from ..archive import open_maybe_compressed

    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return False  # a FIFO or a device would block, or never end
        with tree.open_source(path) as f:
            with tarfile.open(fileobj=open_maybe_compressed(f, path), mode="r|") as tar:  # type: ignore[call-overload]
                return tar.next() is not None
    except (tarfile.TarError, ArchiveError, OSError, EOFError, BuildError):
        return False


# -- writing -----------------------------------------------------------------


@dataclass(frozen=True)
class _Meta:
    """What the writer needs to know about an entry, from lstat or from a tar header."""

    mode: int
    """Type and permission bits (``st_mode``)."""
    uid: int
    gid: int
    mtime_ns: int
    rdev: int = 0
    nlink: int = 1
    dev: int = 0
    ino: int = 0

    @classmethod
    def of(cls, st: os.stat_result) -> _Meta:
        return cls(st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns, st.st_rdev, st.st_nlink, st.st_dev, st.st_ino)


class _Writer:
    """Creates entries below one real destination dir, replacing what is in their way, never following links."""

    def __init__(self, top: str, owner: tuple[int, int] | None, chmod: int | None,
                 tree: BuildContext | None = None) -> None:
        self.top = top
        self.tree = tree
        """Where ``host`` sources are read from (by fd, never through a link)."""
        self.owner = owner
        self.chmod = chmod
        self._links: dict[tuple[int, int], str] = {}
        self._dirs: list[tuple[str, int]] = []
        self._real_dirs: set[str] = {top}

    def _parent(self, rel: str) -> str:
        """The host dir that will hold ``rel``, every level a real directory (made if missing)."""
        parent = posixpath.dirname(rel)
        if not parent:
            return self.top
        host = os.path.join(self.top, parent)
        missing = []  # a loop, not a recursion: an ADDed tar names a file thousands deep with no dirs before it
        while parent and os.path.join(self.top, parent) not in self._real_dirs:
            missing.append(parent)
            parent = posixpath.dirname(parent)
        for sub in reversed(missing):
            above = posixpath.dirname(sub)
            self._make_real_dir(os.path.join(self.top, above) if above else self.top, posixpath.basename(sub),
                                _NEW_DIR_MODE, None)
        return host

    def _make_real_dir(self, parent: str, name: str, mode: int, ids: tuple[int, int] | None) -> str:
        path = os.path.join(parent, name)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            st = None
        if st is not None and not stat.S_ISDIR(st.st_mode):
            os.unlink(path)
            st = None
        if st is None:
            os.mkdir(path, 0o700)
            self._apply(path, mode, ids or self.owner or (0, 0))
        self._real_dirs.add(path)
        return path

    def _clear(self, path: str) -> None:
        """Make room for a non-directory: Docker refuses to put one over a directory."""
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(st.st_mode):
            raise BuildError(f"cannot overwrite directory {path.removeprefix(self.top)} with non-directory")
        os.unlink(path)

    def _apply(self, path: str, mode: int, ids: tuple[int, int]) -> None:
        os.lchown(path, *ids)
        os.chmod(path, self.chmod if self.chmod is not None else mode)

    def put(self, rel: str, meta: _Meta, *, data: IO[bytes] | None = None, host: str = "",
            link: str = "") -> None:
        """Create ``rel`` like ``meta`` (``data`` or ``host`` holds a file's bytes, ``link`` a symlink's target)."""
        parent = self._parent(rel)
        path = os.path.join(parent, posixpath.basename(rel))
        ids = self.owner or (meta.uid, meta.gid)
        mode = stat.S_IMODE(meta.mode)
        if stat.S_ISDIR(meta.mode):
            path = self._make_real_dir(parent, posixpath.basename(rel), mode, ids)
            self._apply(path, mode, ids)
            self._dirs.append((path, meta.mtime_ns))
            return
        self._clear(path)
        if stat.S_ISLNK(meta.mode):
            os.symlink(link, path)
            os.lchown(path, *ids)
        else:
            self._put_node(path, meta, data, host)
            self._apply(path, mode, ids)
        os.utime(path, ns=(meta.mtime_ns, meta.mtime_ns), follow_symlinks=False)

    def _put_node(self, path: str, meta: _Meta, data: IO[bytes] | None, host: str) -> None:
        key = (meta.dev, meta.ino)
        if stat.S_ISREG(meta.mode) and host and meta.nlink > 1 and key in self._links:
            os.link(self._links[key], path)
            return
        if stat.S_ISREG(meta.mode):
            _write_file(path, data, host, self.tree)
            if host and meta.nlink > 1:
                self._links[key] = path
        elif stat.S_ISFIFO(meta.mode) or stat.S_ISCHR(meta.mode) or stat.S_ISBLK(meta.mode):
            os.mknod(path, meta.mode, meta.rdev)

    def hardlink(self, rel: str, target_rel: str, archive: str) -> None:
        """A tar hard link to an entry below the destination: resolved inside it, the entry itself linked.

        As in Docker's chrooted untar, links on the way act as if the destination were ``/`` and a
        symlink target is linked as the symlink (linkat without AT_SYMLINK_FOLLOW), so nothing outside
        the destination can be reached.
        """
        source = os.path.join(resolve_in_root(self.top, posixpath.dirname(target_rel)),
                              posixpath.basename(target_rel))
        try:
            st = os.lstat(source)
        except OSError:
            st = None
        if st is None or stat.S_ISDIR(st.st_mode):
            reason = "no such file or directory" if st is None else "operation not permitted"
            raise BuildError(f"{archive}: cannot unpack archive: link /{target_rel} /{rel}: {reason}")
        parent = self._parent(rel)
        path = os.path.join(parent, posixpath.basename(rel))
        self._clear(path)
        os.link(source, path, follow_symlinks=False)

    def finish(self) -> None:
        """Directory mtimes last: writing their contents moved them."""
        for path, mtime in reversed(self._dirs):
            os.utime(path, ns=(mtime, mtime), follow_symlinks=False)


def _write_file(path: str, data: IO[bytes] | None, host: str, tree: BuildContext | None) -> None:
    if host and tree is None:
        raise ValueError("a host source needs its tree")
    src = tree.open_source(host) if host and tree is not None else None
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "wb") as out:
        if src is not None:
            with src:
                _copy_stream(src, out)
        elif data is not None:
            _copy_stream(data, out)


def _copy_stream(src: IO[bytes], out: IO[bytes]) -> None:
    while chunk := src.read(_BUFSIZE):
        out.write(chunk)


# -- the copy ----------------------------------------------------------------


def _ensure_dest_dir(rootfs: str, dest: str, owner: tuple[int, int]) -> str:
    """The host path of directory ``dest`` inside ``rootfs``, creating missing levels (0755, ``owner``)."""
    host = resolve_in_root(rootfs, dest)
    missing: list[str] = []
    probe = host
    while not os.path.lexists(probe):
        missing.append(probe)
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe):
        raise BuildError(f"cannot copy to non-directory: {dest}")
    for path in reversed(missing):
        os.mkdir(path, _NEW_DIR_MODE)
        os.chown(path, *owner)
    return host


def copy_into(rootfs: str, plan: CopyPlan) -> None:
    """Carry out ``plan`` in the mounted root ``rootfs``."""
    owner = plan.owner or (0, 0)
    for source in plan.sources:
        if source.is_dir or source.archive:
            top = _ensure_dest_dir(rootfs, plan.dest, owner)
            writer = _Writer(top, plan.owner if source.archive else owner, plan.chmod, source.tree)
            if source.archive:
                _unpack(source, writer)
            else:
                _copy_tree(source, writer)
            writer.finish()
        else:
            _copy_file(rootfs, source, plan, owner)


def _copy_file(rootfs: str, source: Source, plan: CopyPlan, owner: tuple[int, int]) -> None:
    target = plan.dest
    if plan.dest_is_dir or os.path.isdir(resolve_in_root(rootfs, target)):
        target = posixpath.join(target, source.name)
    parent = _ensure_dest_dir(rootfs, posixpath.dirname(target) or "/", owner)
    meta = _Meta.of(os.stat(source.host))
    if source.mode is not None:
        meta = _Meta(stat.S_IFREG | source.mode, meta.uid, meta.gid, meta.mtime_ns)
    writer = _Writer(parent, owner, plan.chmod, source.tree)
    writer.put(posixpath.basename(target), meta, host=source.host)


def _copy_tree(source: Source, writer: _Writer) -> None:
    prefix = len(source.rel) + 1 if source.rel != "." else 0
    for rel, st in source.tree.walk(source.rel):
        host = os.path.join(source.tree.root, rel)
        link = os.readlink(host) if stat.S_ISLNK(st.st_mode) else ""
        if stat.S_ISSOCK(st.st_mode):
            continue
        writer.put(rel[prefix:], _Meta.of(st), host=host if stat.S_ISREG(st.st_mode) else "", link=link)


def _members(tar: tarfile.TarFile, name: str) -> Iterator[tuple[tarfile.TarInfo, str]]:
    """Each member with its cleaned relative name; a name that climbs out of the destination is refused."""
    for member in tar:
        rel = posixpath.normpath(member.name.lstrip("/"))
        if rel == ".":
            continue
        if rel == ".." or rel.startswith("../"):
            raise BuildError(f"{name}: invalid archive entry {member.name}: it points outside the destination")
        yield member, rel


def _unpack(source: Source, writer: _Writer) -> None:
    """Unpack a local tar archive (any compression) below the writer's destination."""
    from ..archive import open_maybe_compressed

    name = os.path.basename(source.host)
    try:
        with source.tree.open_source(source.host) as f, tarfile.open(
                fileobj=open_maybe_compressed(f, name), mode="r|") as tar:  # type: ignore[call-overload]
            for member, rel in _members(tar, name):
                _unpack_member(tar, member, rel, writer, name)
    except tarfile.TarError as err:
        raise BuildError(f"{name}: cannot unpack archive: {err}") from err


def _unpack_member(tar: tarfile.TarFile, member: tarfile.TarInfo, rel: str, writer: _Writer, name: str) -> None:
    if member.islnk():
        target = posixpath.normpath(member.linkname.lstrip("/"))
        if target == ".." or target.startswith("../"):
            raise BuildError(f"{name}: invalid hard link {member.name} -> {member.linkname}")
        writer.hardlink(rel, target, name)
        return
    kinds = {tarfile.REGTYPE: stat.S_IFREG, tarfile.AREGTYPE: stat.S_IFREG, tarfile.DIRTYPE: stat.S_IFDIR,
             tarfile.SYMTYPE: stat.S_IFLNK, tarfile.FIFOTYPE: stat.S_IFIFO, tarfile.CHRTYPE: stat.S_IFCHR,
             tarfile.BLKTYPE: stat.S_IFBLK, tarfile.CONTTYPE: stat.S_IFREG}
    kind = kinds.get(member.type)
    if kind is None:
        return
    rdev = os.makedev(member.devmajor, member.devminor) if member.ischr() or member.isblk() else 0
    meta = _Meta(kind | member.mode, member.uid, member.gid, int(member.mtime) * 1_000_000_000, rdev)
    data = tar.extractfile(member) if member.isreg() else None
    writer.put(rel, meta, data=data, link=member.linkname if member.issym() else "")
