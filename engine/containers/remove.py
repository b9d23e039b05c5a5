"""Deleting a stopped container: its writable layers, its mount record, then its directory."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ..errors import BerthError
from ..store import atomic
from ..store.paths import MOUNT_ID_FILE

if TYPE_CHECKING:
    from ..engine import Engine

__all__ = ["mount_id_of", "remove_container_files"]


def mount_id_of(engine: "Engine", cid: str) -> str:
    """The cache-id of the container's writable layer, from ``layerdb/mounts/<id>/mount-id``."""
    path = os.path.join(engine.paths.mount_record(cid), MOUNT_ID_FILE)
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    except OSError as err:
        raise BerthError(f"container {cid[:12]} has no mount record: {err.strerror}") from err


def remove_container_files(engine: "Engine", cid: str) -> None:
    """Records first (so nothing lists a half-removed container), then the layers they pointed at."""
    try:
        mount_id: str | None = mount_id_of(engine, cid)
    except BerthError:
        mount_id = None
    with engine.lock:
        atomic.remove_tree(engine.paths.container_dir(cid))
        engine.rwlayers.forget(cid)
        if mount_id:
            engine.rwlayers.remove(mount_id)
    try:
        os.unlink(engine.paths.container_lock(cid))
    except FileNotFoundError:
        pass
    from .recovery import remove_cgroup

    remove_cgroup(cid)
