"""Writable layers: a container's ``<mount-id>-init`` and ``<mount-id>``, on top of an image chain.

The dirs live beside image layers in overlay2/, but they are recorded under
``layerdb/mounts/<container-id>/`` (mount-id, init-id, parent), as Docker does,
and they never get a ``committed`` file.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from ..errors import StoreFull
from ..kernel import overlay
from . import atomic
from .layers import LayerStore, new_link_id, remove_layer_dir
from .paths import INIT_ID_FILE, INIT_SUFFIX, LAYER_PARENT_FILE, LINK_DIR, MOUNT_ID_FILE, StorePaths, link_target

__all__ = ["RWLayerStore", "fill_init_layer", "INIT_DIRS", "INIT_FILES", "INIT_SYMLINKS"]

# What Docker's initlayer puts under every container's writable layer: empty mount
# points, so mounting them never changes the container's (or a build step's) own layer.
INIT_DIRS = ("dev", "dev/pts", "dev/shm", "proc", "sys", "etc")
INIT_FILES = (".dockerenv", "etc/resolv.conf", "etc/hosts", "etc/hostname", "dev/console")
INIT_SYMLINKS = (("etc/mtab", "/proc/mounts"),)


def fill_init_layer(diff: str) -> None:
    """Docker's init layer: empty mount points and the /etc/mtab link, owned by root."""
    for name in INIT_DIRS:
        os.makedirs(os.path.join(diff, name), 0o755, exist_ok=True)
    for name in INIT_FILES:
        os.close(os.open(os.path.join(diff, name), os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o755))
    for name, target in INIT_SYMLINKS:
        os.symlink(target, os.path.join(diff, name))


class RWLayerStore:
    """Create, mount and remove the writable layers of containers and build steps."""

    def __init__(self, paths: StorePaths, layers: LayerStore) -> None:
        self.paths = paths
        self.layers = layers

    def create(self, mount_id: str, parent: str | None, *, init: Callable[[str], None] | None = None) -> list[str]:
        """Make ``<mount-id>`` (and ``<mount-id>-init`` when ``init`` fills one) over the chain ``parent``.

        Returns the short lower paths of the new top layer, top-most first.
        """
        lowers = self.layers.lower_dirs(parent) if parent else []
        if init is not None:
            init_id = mount_id + INIT_SUFFIX
            self._make_dir(init_id, lowers)
            init(self.paths.diff_dir(init_id))
            lowers = [os.path.join(LINK_DIR, self._link(init_id)), *lowers]
        self._make_dir(mount_id, lowers)
        return lowers

    def _make_dir(self, cache_id: str, lowers: list[str]) -> None:
        layer_dir = self.paths.layer_dir(cache_id)
        try:
            os.makedirs(self.paths.links, exist_ok=True)
            os.mkdir(layer_dir, 0o710)
        except OSError as err:
            full = StoreFull.from_os_error(err, layer_dir)
            if full is not None:
                raise full from err
            raise
        try:
            os.mkdir(self.paths.diff_dir(cache_id), 0o755)
            os.mkdir(self.paths.work_dir(cache_id), 0o700)
            os.mkdir(self.paths.merged_dir(cache_id), 0o700)
            link_id = new_link_id()
            atomic.write_file(self.paths.link_file(cache_id), link_id)
            if lowers:
                atomic.write_file(self.paths.lower_file(cache_id), ":".join(lowers))
            os.symlink(link_target(cache_id), self.paths.link(link_id))
        except BaseException as err:
            remove_layer_dir(self.paths, cache_id)
            full = StoreFull.from_os_error(err, err.filename or layer_dir) if isinstance(err, OSError) else None
            if full is not None:
                raise full from err
            raise

    def _link(self, cache_id: str) -> str:
        with open(self.paths.link_file(cache_id), encoding="utf-8") as f:
            return f.read().strip()

    def lowers(self, mount_id: str) -> list[str]:
        try:
            with open(self.paths.lower_file(mount_id), encoding="utf-8") as f:
                return f.read().strip().split(":")
        except FileNotFoundError:
            return []

    def mount(self, mount_id: str) -> str:
        """Mount the layer's merged view and return its path (``merged/``)."""
        merged = self.paths.merged_dir(mount_id)
        lowers = self.lowers(mount_id)
        rel = os.path.relpath
        overlay_dir = self.paths.overlay
        if not lowers:
            # overlayfs needs a lower dir; an empty one stands in for FROM scratch.
            empty = os.path.join(self.paths.layer_dir(mount_id), "empty")
            os.makedirs(empty, exist_ok=True)
            lowers = [rel(empty, overlay_dir)]
        overlay.mount_overlay(lowers, rel(self.paths.diff_dir(mount_id), overlay_dir),
                              rel(self.paths.work_dir(mount_id), overlay_dir), merged, cwd=overlay_dir)
        return merged

    def unmount(self, mount_id: str) -> None:
        overlay.unmount(self.paths.merged_dir(mount_id), detach=True)

    def remove(self, mount_id: str) -> None:
        """Unmount, then delete the layer and its ``-init`` layer."""
        self.unmount(mount_id)
        for cache_id in (mount_id, mount_id + INIT_SUFFIX):
            if os.path.isdir(self.paths.layer_dir(cache_id)):
                remove_layer_dir(self.paths, cache_id)

    def record(self, container_id: str, mount_id: str, parent: str | None, has_init: bool) -> None:
        """Write ``layerdb/mounts/<container-id>/``, after the dirs it names exist."""
        files: dict[str, bytes | str] = {MOUNT_ID_FILE: mount_id}
        if has_init:
            files[INIT_ID_FILE] = mount_id + INIT_SUFFIX
        if parent:
            files[LAYER_PARENT_FILE] = parent
        atomic.write_dir(self.paths.mount_record(container_id), files)

    def forget(self, container_id: str) -> None:
        atomic.remove_tree(self.paths.mount_record(container_id))
