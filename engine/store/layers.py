"""Read-only image layers: the overlay2 graph driver plus Docker's layerdb.

A layer's data lives in ``overlay2/<cache-id>/diff``; its record, keyed by
chainID, in ``layerdb/sha256/<chain-id>/``. Data is always complete before the
record that points at it exists, so a crash leaves at worst an orphan dir.
"""

from __future__ import annotations

import base64
import builtins
import hashlib
import os
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from ..errors import LayerNotFound, StoreCorrupt, StoreFull
from . import atomic
from .locks import FileLock, get_lock
from .paths import (
    COMMITTED_FILE,
    DIFF_DIR,
    INIT_SUFFIX,
    LAYER_CACHE_ID_FILE,
    LAYER_DIFF_FILE,
    LAYER_PARENT_FILE,
    LAYER_SIZE_FILE,
    LINK_DIR,
    LINK_FILE,
    LINK_ID_LENGTH,
    LOWER_FILE,
    MAX_DEPTH,
    STAGING_LOCK_SUFFIX,
    WORK_DIR,
    StorePaths,
    link_target,
)
from .removal import delete_tree
from .sizes import dir_size

__all__ = ["Layer", "LayerStore", "chain_id_for", "layer_dir_name", "new_cache_id", "valid_cache_id"]


@dataclass(frozen=True)
class Layer:
    """One read-only layer as its layerdb record describes it."""

    chain_id: str
    diff_id: str
    parent: str | None
    cache_id: str
    size: int


def chain_id_for(parent: str | None, diff_id: str) -> str:
    """chainID as the OCI image spec defines it."""
    if parent is None:
        return diff_id
    return "sha256:" + hashlib.sha256(f"{parent} {diff_id}".encode()).hexdigest()


def new_cache_id() -> str:
    """A random 64-hex cache-id, as the graph driver names its dirs."""
    return secrets.token_hex(32)


def new_link_id() -> str:
    return base64.b32encode(secrets.token_bytes(20)).decode()[:LINK_ID_LENGTH]


def _hex(digest: str) -> str:
    return digest.split(":", 1)[1] if ":" in digest else digest


class LayerStore:
    """The layers of one store root."""

    def __init__(self, paths: StorePaths, lock: FileLock | None = None) -> None:
        self.paths = paths
        self.lock = lock or get_lock(paths.lock)

    # -- reading -----------------------------------------------------------

    def get(self, chain_id: str) -> Layer:
        """The record for ``chain_id``; LayerNotFound when there is none."""
        record = self.paths.layer_record(_hex(chain_id))
        try:
            diff_id = _read(record, LAYER_DIFF_FILE)
            cache_id = _read(record, LAYER_CACHE_ID_FILE)
            size = int(_read(record, LAYER_SIZE_FILE))
        except FileNotFoundError as err:
            raise LayerNotFound(f"layer {chain_id} not found") from err
        except ValueError as err:
            raise StoreCorrupt(f"layer {chain_id}: unreadable size record") from err
        except UnicodeDecodeError as err:
            raise StoreCorrupt(f"layer {chain_id}: torn record in {record}; run berth system check") from err
        if not valid_cache_id(cache_id):
            # An empty or torn cache-id would name overlay2/ itself: never hand it to a reader, or to remove().
            raise StoreCorrupt(f"layer {chain_id}: torn cache-id in {record}; run berth system check")
        try:
            parent: str | None = _read(record, LAYER_PARENT_FILE)
        except FileNotFoundError:
            parent = None
        return Layer("sha256:" + _hex(chain_id), diff_id, parent, cache_id, size)

    def exists(self, chain_id: str) -> bool:
        return os.path.isdir(self.paths.layer_record(_hex(chain_id)))

    def chain(self, chain_id: str) -> list[Layer]:
        """The layers from the base up to ``chain_id``."""
        layers = []
        current: str | None = chain_id
        while current is not None:
            layer = self.get(current)
            layers.append(layer)
            current = layer.parent
        layers.reverse()
        return layers

    def list(self) -> list[str]:
        """Every chainID that has a complete record."""
        try:
            names = os.listdir(self.paths.layerdb)
        except FileNotFoundError:
            return []
        return ["sha256:" + n for n in names if not n.startswith(".")]

    def lower_dirs(self, chain_id: str) -> builtins.list[str]:
        """Short ``l/<id>`` paths for the chain, top-most first, relative to overlay2/."""
        cache_id = self.get(chain_id).cache_id
        own = os.path.join(LINK_DIR, _read(self.paths.layer_dir(cache_id), LINK_FILE))
        try:
            below = _read(self.paths.layer_dir(cache_id), LOWER_FILE)
        except FileNotFoundError:
            return [own]
        return [own, *below.split(":")]

    # -- writing -----------------------------------------------------------

    def register(
        self,
        source: BinaryIO,
        parent: str | None,
        *,
        archive_name: str,
        progress: Callable[[int], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> Layer:
        """Apply a layer tar on top of ``parent`` and record it; an existing identical layer is reused.

        The tar is unpacked without the store lock (it is the slow part) into a
        locked staging dir; only the final renames happen under the lock.
        """
        from .. import archive  # the tar reader is heavy; only writers need it

        if parent is not None and len(self.chain(parent)) >= MAX_DEPTH:
            raise StoreCorrupt(f"max depth exceeded: an image has at most {MAX_DEPTH} layers")
        with Staging(self.paths) as stage:
            try:
                result = archive.apply_layer(
                    source, stage.diff, archive_name=archive_name, cancel=cancel, progress=progress
                )
                chain_id = chain_id_for(parent, result.diff_id)
                with self.lock:
                    if self.exists(chain_id):
                        return self.get(chain_id)
                    size = dir_size(stage.diff)
                    _syncfs(stage.diff)
                    self._commit(stage, parent)
                    atomic.write_dir(self.paths.layer_record(_hex(chain_id)),
                                     _record(result.diff_id, stage.cache_id, size, parent))
            except OSError as err:
                full = StoreFull.from_os_error(err, err.filename or stage.dir or self.paths.layer_dir(stage.cache_id))
                if full is None:
                    raise
                raise full from err
            return self.get(chain_id)

    def _commit(self, stage: Staging, parent: str | None) -> None:
        """Move a staged layer into overlay2/ and give it its link and lower files."""
        cache_id = stage.cache_id
        link_id = new_link_id()
        os.mkdir(os.path.join(stage.dir, WORK_DIR), 0o700)
        if parent is not None:
            atomic.write_file(os.path.join(stage.dir, LOWER_FILE), ":".join(self.lower_dirs(parent)))
        atomic.write_file(os.path.join(stage.dir, LINK_FILE), link_id)
        atomic.write_file(os.path.join(stage.dir, COMMITTED_FILE), b"")
        os.makedirs(self.paths.overlay, exist_ok=True)
        os.rename(stage.dir, self.paths.layer_dir(cache_id))
        stage.dir = ""
        os.makedirs(self.paths.links, exist_ok=True)
        os.symlink(link_target(cache_id), self.paths.link(link_id))
        atomic.fsync_dir(self.paths.links)
        atomic.fsync_dir(self.paths.overlay)

    def remove(self, chain_id: str) -> None:
        """Delete the record first, then its data, so no record points at missing data.

        A record too torn to name its data goes alone: its dir is then an orphan ``system check`` can prove.
        """
        with self.lock:
            try:
                layer = self.get(chain_id)
            except StoreCorrupt:
                atomic.remove_tree(self.paths.layer_record(_hex(chain_id)))
                return
            atomic.remove_tree(self.paths.layer_record(_hex(chain_id)))
            remove_layer_dir(self.paths, layer.cache_id)
            if not any(self.get(other).diff_id == layer.diff_id for other in self.list()):
                _unlink_quietly(self.paths.tar_split(layer.diff_id))


def valid_cache_id(cache_id: str) -> bool:
    """A layer dir's name: one path component (64 hex, or a writable layer's ``<mount-id>-init``)."""
    base = cache_id.removesuffix(INIT_SUFFIX)
    return len(base) == 64 and all(c in "0123456789abcdef" for c in base)


def layer_dir_name(name: str) -> bool:
    """One entry of overlay2/ that may be a layer dir (never "", ".", "..", ``l`` or a path)."""
    return bool(name) and "/" not in name and name not in (".", "..", LINK_DIR) and "\0" not in name


def remove_layer_dir(paths: StorePaths, cache_id: str) -> None:
    """Delete a graph-driver dir and the short link that points into it."""
    if not layer_dir_name(cache_id):
        raise StoreCorrupt(f"refusing to remove layer dir {cache_id!r}: not a layer's name")
    layer_dir = paths.layer_dir(cache_id)
    try:
        link_id = _read(layer_dir, LINK_FILE)
    except FileNotFoundError:
        link_id = ""
    if link_id and os.path.islink(paths.link(link_id)):
        os.unlink(paths.link(link_id))
    atomic.remove_tree(layer_dir)


class Staging:
    """A locked scratch dir under tmp/ that becomes ``overlay2/<cache-id>`` on commit."""

    def __init__(self, paths: StorePaths) -> None:
        self.cache_id = new_cache_id()
        self.dir = os.path.join(paths.staging, self.cache_id)
        self.lock_path = self.dir + STAGING_LOCK_SUFFIX
        self._lock = get_lock(self.lock_path)

    @property
    def diff(self) -> str:
        return os.path.join(self.dir, DIFF_DIR)

    def __enter__(self) -> Staging:
        self._lock.acquire()
        try:
            os.makedirs(self.diff, 0o755)
        except BaseException as err:
            delete_tree(self.dir, ignore_errors=True)
            _unlink_quietly(self.lock_path)
            self._lock.release()
            full = StoreFull.from_os_error(err, self.dir) if isinstance(err, OSError) else None
            if full is not None:
                raise full from err
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self.dir:
                delete_tree(self.dir, ignore_errors=True)
            os.unlink(self.lock_path)
        finally:
            self._lock.release()


def _record(diff_id: str, cache_id: str, size: int, parent: str | None) -> dict[str, bytes | str]:
    files: dict[str, bytes | str] = {
        LAYER_DIFF_FILE: diff_id,
        LAYER_CACHE_ID_FILE: cache_id,
        LAYER_SIZE_FILE: str(size),
    }
    if parent is not None:
        files[LAYER_PARENT_FILE] = parent
    return files


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _read(directory: str, name: str) -> str:
    with open(os.path.join(directory, name), encoding="utf-8") as f:
        return f.read().strip()


def _syncfs(path: str) -> None:
    """Flush the layer's file data before any record can point at it."""
    from ..kernel.syscalls import syncfs

    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        syncfs(fd)
    finally:
        os.close(fd)
