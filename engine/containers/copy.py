"""``cp``: copy between a container's root and the host (or a tar on stdin/stdout), staying inside the root.

Every container path is opened with ``open_in_root`` (the kernel's
``RESOLVE_IN_ROOT``, or an fd walk), so ``..`` and absolute link targets stay
in the root; what is copied is read and written by ``copytree``, which never
follows a link below the paths the user named, never opens a fifo or a device
(they are copied as nodes), and never writes through a link on either side.
The destination's own last component is followed (inside the root) on the
container side, as Docker does; on the host side it is not: a link there may
be one a container left in an earlier copy-out, so it is replaced (stricter
than Docker, which follows it). A stopped container's overlay is mounted for
the copy, under the container's lock so it cannot start meanwhile. Volumes and
bind mounts are not part of the root: they are not seen (left out: issue #4).
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, BinaryIO

from ..errors import InvalidArgument
from .copytree import Entry, TreeWriter, read_tar, read_tree, reopen, write_tar
from .inroot import open_in_root, split_path
from .lifecycle import current
from .remove import mount_id_of

if TYPE_CHECKING:
    from ..context import StoreContext

__all__ = ["copy_from", "copy_to", "container_path"]


def container_path(arg: str) -> tuple[str, str] | None:
    """``name:path`` → (name, path); a host path (absolute, ./relative, ``-``, or without a colon) → None."""
    if arg.startswith(("/", ".")) or ":" not in arg:
        return None
    name, _, path = arg.partition(":")
    return name, path or "/"


@contextmanager
def _root(store: StoreContext, cid: str) -> Iterator[int]:
    """An ``O_PATH`` fd of the container's merged root, mounted for as long as needed."""
    mount_id = mount_id_of(store, cid)
    with store.records.locked(cid):
        running = current(store, cid)["State"]["Running"]
        merged = store.paths.merged_dir(mount_id) if running else store.rwlayers.mount(mount_id)
        try:
            fd = os.open(merged, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                yield fd
            finally:
                os.close(fd)
        finally:
            if not running:
                store.rwlayers.unmount(mount_id)


def _name_of(path: str) -> str:
    """The name a copied path gets at its destination (Docker's: the last component; ``/`` is ``.``)."""
    parts = split_path(path)
    return parts[-1] if parts and parts[-1] != ".." else "."


def _contents_only(path: str) -> bool:
    """``dir/.`` (and ``/``, ``dir/..``, which name no entry of their own) copy a directory's contents."""
    return path.endswith("/.") or path == "." or _name_of(path) == "."


def _not_found(path: str, name: str) -> InvalidArgument:
    """Docker's words for a container path that is not there."""
    return InvalidArgument(f"Could not find the file {path} in container {name}")


def _failed(err: OSError, shown: str) -> InvalidArgument:
    """An OSError as one line naming the path as the user wrote it (never a host path of the store)."""
    return InvalidArgument(f"{shown}: {os.strerror(err.errno) if err.errno else 'copy failed'}")


# -- out of the container -------------------------------------------------------


def copy_from(store: StoreContext, cid: str, path: str, dest: str | BinaryIO, *, follow_link: bool = False,
              name: str = "") -> None:
    """``cp CONTAINER:PATH DEST``; ``dest`` a host path or a binary stream that gets a tar (``cp … -``)."""
    name = name or cid[:12]
    shown = f"{name}:{path}"
    with _root(store, cid) as root:
        try:
            src = open_in_root(root, path, os.O_PATH, follow_last=follow_link or _contents_only(path))
        except OSError as err:
            if err.errno in (errno.ENOENT, errno.ENOTDIR):
                raise _not_found(path, name) from None
            raise _failed(err, shown) from None
        try:
            is_dir = stat.S_ISDIR(os.fstat(src).st_mode)
            if _contents_only(path) and not is_dir:
                raise _not_found(path, name)
            if not isinstance(dest, str):
                write_tar(read_tree(src), dest, "" if _contents_only(path) else _name_of(path))
                return
            _to_host(src, is_dir, _contents_only(path), _name_of(path), dest)
        except BrokenPipeError:
            raise  # ``cp … - | head``: the CLI ends quietly, as for any closed pipe
        except OSError as err:
            raise _failed(err, shown) from None
        finally:
            os.close(src)


def _to_host(src: int, is_dir: bool, contents: bool, name: str, dest: str) -> None:
    """Write the tree ``src`` at host path ``dest``; its last component is not followed unless it ends in ``/``."""
    dest_dir, dest_name = _split_host(dest)
    try:
        parent = os.open(dest_dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        raise InvalidArgument(f"no such directory: {dest_dir}") from None
    base = parent
    try:
        kind: int | None = stat.S_IFDIR
        if dest_name is not None:
            try:
                kind = stat.S_IFMT(os.stat(dest_name, dir_fd=parent, follow_symlinks=False).st_mode)
            except FileNotFoundError:
                kind = None
            if kind == stat.S_IFDIR or (kind == stat.S_IFLNK and dest.endswith("/")):
                try:  # a link named with a trailing slash is followed: the user asked for a directory
                    base = os.open(dest_name, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC
                                   | (0 if kind == stat.S_IFLNK else os.O_NOFOLLOW), dir_fd=parent)
                except OSError:
                    raise InvalidArgument(f"not a directory: {dest}") from None
                kind = stat.S_IFDIR
        if kind == stat.S_IFDIR:
            TreeWriter(base, () if contents else (name,), dest, owner=None, host=True).write_all(read_tree(src))
            return
        if kind is not None and is_dir:
            raise InvalidArgument("cannot copy directory")
        if kind is None and dest.endswith("/") and not is_dir:
            raise InvalidArgument(f"no such directory: {dest}")
        assert dest_name is not None
        TreeWriter(parent, (dest_name,), _dirname(dest), owner=None, host=True).write_all(read_tree(src))
    finally:
        if base != parent:
            os.close(base)
        os.close(parent)


def _dirname(path: str) -> str:
    """The directory part of a path as the user wrote it, for messages."""
    head = path.rstrip("/").rpartition("/")[0]
    return head or ("/" if path.startswith("/") else ".")


def _split_host(dest: str) -> tuple[str, str | None]:
    """(the directory to open, following the user's links; the last name, or None when dest is a dir itself)."""
    stripped = dest.rstrip("/")
    if not stripped:
        return "/", None
    head, _, tail = stripped.rpartition("/")
    if tail in (".", ".."):
        return stripped, None
    return (head or "/") if "/" in stripped else ".", tail


# -- into the container ---------------------------------------------------------


def copy_to(store: StoreContext, cid: str, source: str | BinaryIO, path: str, *, follow_link: bool = False,
            archive: bool = False, name: str = "") -> None:
    """``cp SRC CONTAINER:PATH``; ``source`` a host path or a binary stream of a tar (``cp - …``).

    Owners are the source's (as Docker keeps a tar's), or with ``archive`` the
    container's user's, as Docker's ``-a`` sets them.
    """
    name = name or cid[:12]
    shown = f"{name}:{path}"
    src: int | None = None
    if isinstance(source, str):
        try:
            src = os.open(source, os.O_PATH | os.O_CLOEXEC | (0 if follow_link or _contents_only(source)
                                                            else os.O_NOFOLLOW))
        except OSError:
            raise InvalidArgument(f"no such file or directory: {source}") from None
    try:
        with _root(store, cid) as root:
            user = _container_user(store, cid, root) if archive else None

            def owner(e: Entry) -> tuple[int, int]:
                return (e.uid, e.gid) if user is None else user

            try:
                if src is None:
                    assert not isinstance(source, str)
                    _tar_into(root, path, source, name, owner)
                else:
                    assert isinstance(source, str)
                    _tree_into(root, path, src, source, name, owner)
            except OSError as err:
                raise _failed(err, shown) from None
    finally:
        if src is not None:
            os.close(src)


def _tar_into(root: int, path: str, stream: BinaryIO, name: str, owner: Callable[[Entry], tuple[int, int]]) -> None:
    """``cp - CONTAINER:DIR``: the tar is extracted into DIR, which must be a directory."""
    try:
        base = open_in_root(root, path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as err:
        if err.errno == errno.ENOTDIR:
            raise InvalidArgument(f'destination "{name}:{path}" must be a directory') from None
        raise _not_found(path, name) from None
    try:
        TreeWriter(base, (), path, owner=owner, host=False).write_all(read_tar(stream))
    finally:
        os.close(base)


def _tree_into(root: int, path: str, src: int, source: str, name: str,
               owner: Callable[[Entry], tuple[int, int]]) -> None:
    is_dir = stat.S_ISDIR(os.fstat(src).st_mode)
    contents = _contents_only(source)
    if contents and not is_dir:
        raise InvalidArgument(f"not a directory: {source}")
    parent, last = _container_parent(root, path, name)
    try:
        try:
            kind: int | None = stat.S_IFMT(os.stat(last, dir_fd=parent, follow_symlinks=False).st_mode) \
                if last else stat.S_IFDIR
        except FileNotFoundError:
            kind = None
        if kind == stat.S_IFDIR:
            base = os.open(last or ".", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
            try:
                top = () if contents else (_name_of(source),)
                TreeWriter(base, top, path, owner=owner, host=False).write_all(read_tree(src))
            finally:
                os.close(base)
            return
        if kind is not None and is_dir:
            raise InvalidArgument("cannot copy directory")
        if kind is None and path.endswith("/") and not is_dir:
            raise InvalidArgument("no such directory")
        TreeWriter(parent, (last,), _dirname(path), owner=owner, host=False).write_all(read_tree(src))
    finally:
        os.close(parent)


def _container_parent(root: int, path: str, name: str) -> tuple[int, str]:
    """(an fd of the parent directory, the last name) of ``path``, following a final link inside the root
    as Docker does (so ``/x/file -> /host/file`` is the container's ``/host/file``); name "" is the dir itself."""
    asked = path
    for _ in range(40):
        parts = split_path(path)
        if not parts or parts[-1] == "..":
            return open_in_root(root, path, os.O_RDONLY | os.O_DIRECTORY), ""
        parent_path = "/" + "/".join(parts[:-1])
        try:
            parent = open_in_root(root, parent_path, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            raise _not_found(asked, name) from None
        try:
            target = os.readlink(parts[-1], dir_fd=parent)
        except OSError:
            return parent, parts[-1]  # not a link (or missing)
        os.close(parent)
        path = target if target.startswith("/") else f"{parent_path}/{target}"
    raise InvalidArgument(f"{name}:{asked}: {os.strerror(errno.ELOOP)}")


def _container_user(store: StoreContext, cid: str, root: int) -> tuple[int, int] | None:
    """The uid/gid of the container's configured user, from its own passwd and group files (``-a``);
    None when it has none, where Docker's ``-a`` keeps the source's owners too."""
    spec = current(store, cid)["Config"].get("User") or ""
    if not spec:
        return None
    who, _, group = spec.partition(":")
    users = _table(root, "/etc/passwd")
    row = next((r for r in users if len(r) >= 4 and r[0] == who), None) or \
        next((r for r in users if len(r) >= 4 and who.isdigit() and r[2] == who), None)
    if row is None and not who.isdigit():
        raise InvalidArgument(f"unable to find user {who}: no matching entries in passwd file")
    uid = int(row[2]) if row else int(who)
    gid = int(row[3]) if row and row[3].isdigit() else 0
    if group:
        found = next((r for r in _table(root, "/etc/group") if len(r) >= 3 and r[0] == group), None)
        if found is None and not group.isdigit():
            raise InvalidArgument(f"unable to find group {group}: no matching entries in group file")
        gid = int(found[2]) if found else int(group)
    return uid, gid


def _table(root: int, path: str) -> list[list[str]]:
    """A passwd-style file of the container, read only if it is a regular file (a fifo would block)."""
    try:
        fd = open_in_root(root, path)
    except OSError:
        return []
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return []
        with reopen(fd, st) as f:
            text = f.read(1 << 20).decode("utf-8", "replace")
    finally:
        os.close(fd)
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]
