"""``cp``: copy between a container's root and the host, never following the container's symlinks out of it.

Container paths are resolved with ``resolve_in_root`` (``..`` and absolute link
targets stay inside the root); links *inside* what is copied are copied as
links. A stopped container's overlay is mounted for the copy, under the
container's lock so it cannot start meanwhile. Volumes and bind mounts are not
part of the root: they are not seen (left out: issue #4).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from ..errors import InvalidArgument
from ..runtime.rootfs import resolve_in_root
from .lifecycle import current
from .remove import mount_id_of

if TYPE_CHECKING:
    from ..engine import Engine

__all__ = ["copy_from", "copy_to", "container_path"]


def container_path(arg: str) -> tuple[str, str] | None:
    """``name:path`` → (name, path); a host path (absolute, ./relative, or without a colon) → None."""
    if arg.startswith(("/", ".")) or ":" not in arg:
        return None
    name, _, path = arg.partition(":")
    return name, path or "/"


@contextmanager
def _root(engine: "Engine", cid: str) -> Iterator[str]:
    """The container's merged root, mounted for as long as needed."""
    mount_id = mount_id_of(engine, cid)
    with engine.containers.locked(cid):
        if current(engine, cid)["State"]["Running"]:
            yield engine.paths.merged_dir(mount_id)
            return
        merged = engine.rwlayers.mount(mount_id)
        try:
            yield merged
        finally:
            engine.rwlayers.unmount(mount_id)


def _copy(source: str, target: str) -> None:
    """A file or a tree, links as links, modes and times kept; into ``target`` if it is a directory."""
    contents_only = source.endswith("/.")
    source = source.rstrip("/.") if contents_only and source.rstrip("/.") else source
    if os.path.isdir(target) and not contents_only:
        target = os.path.join(target, os.path.basename(source.rstrip("/")))
    if os.path.isdir(source) and not os.path.islink(source):
        shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True)
    else:
        shutil.copy2(source, target, follow_symlinks=False)


def copy_from(engine: "Engine", cid: str, path: str, dest: str) -> None:
    """``cp CONTAINER:PATH DEST``."""
    with _root(engine, cid) as root:
        source = _in_root(root, path, follow_last=False)
        if not os.path.lexists(source):
            raise InvalidArgument(f"Could not find the file {path} in container {cid[:12]}")
        _copy(source + ("/." if path.endswith("/.") else ""), dest)


def copy_to(engine: "Engine", cid: str, source: str, path: str) -> None:
    """``cp SRC CONTAINER:PATH``; the container path's parent must exist."""
    if not os.path.lexists(source):
        raise InvalidArgument(f"no such file or directory: {source}")
    with _root(engine, cid) as root:
        target = _in_root(root, path)
        if not os.path.isdir(os.path.dirname(target)):
            raise InvalidArgument(f"no such directory in container {cid[:12]}: {os.path.dirname(path)}")
        _copy(source, target)


def _in_root(root: str, path: str, follow_last: bool = True) -> str:
    """The host path of a container path, links resolved inside ``root``; with ``follow_last`` off a
    final link is left as it is (``cp`` copies a named link as a link, as Docker does without -L)."""
    parent, name = os.path.split(path.rstrip("/") or "/")
    if follow_last or name in ("", ".", ".."):
        resolved = resolve_in_root(root, path)
    else:
        resolved = os.path.join(resolve_in_root(root, parent), name)
    if os.path.commonpath([root, resolved]) != root:
        raise InvalidArgument(f"path escapes the container: {path}")
    return resolved
