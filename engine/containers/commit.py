"""``commit``: a container's writable layer becomes a new image on top of its own image."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import BerthError
from ..images import format_time
from .lifecycle import current, pause
from .remove import mount_id_of

if TYPE_CHECKING:
    from ..context import StoreContext

__all__ = ["commit_container"]

# Container settings that a committed image keeps as its own config (Docker merges the same ones).
_KEPT = ("User", "Env", "Cmd", "Entrypoint", "WorkingDir", "Labels", "StopSignal", "Volumes", "ExposedPorts")


def _image_config(image: dict[str, Any], container: dict[str, Any], diff_id: str, message: str, author: str,
                  changes: Callable[[dict[str, Any]], None] | None) -> dict[str, Any]:
    """The new config: the image's, with the container's settings, a history row and one more layer."""
    ctr = container["Config"]
    config = copy.deepcopy(image.get("config") or {})
    config.update({key: copy.deepcopy(ctr[key]) for key in _KEPT if ctr.get(key) is not None})
    if changes is not None:
        changes(config)
    created = format_time(time.time())
    entry: dict[str, Any] = {"created": created, "created_by": " ".join([container["Path"], *container["Args"]])}
    if message:
        entry["comment"] = message
    if author:
        entry["author"] = author
    out = {key: value for key, value in image.items() if key in ("architecture", "os", "variant")}
    out.update({
        # no container/container_config: Go tools (skopeo…) drop them, which would change the image ID
        "config": config, "created": created,
        "history": [*image.get("history", []), entry],
        "rootfs": {"type": "layers", "diff_ids": [*image.get("rootfs", {}).get("diff_ids", []), diff_id]},
    })
    if author:
        out["author"] = author
    return out


def commit_container(store: StoreContext, cid: str, ref: str | None, *, message: str = "", author: str = "",
                     changes: Callable[[dict[str, Any]], None] | None = None, pause_container: bool = True) -> str:
    """Write the upper dir as a layer (paused meanwhile, so it is one moment's state) and the image config."""
    from .. import reference
    from ..builder.container import register_dir

    container = current(store, cid)
    image = store.images.config(container["Image"])
    frozen = pause_container and container["State"]["Running"] and not container["State"]["Paused"]
    try:
        if frozen:
            pause(store, cid, True)
        layer = register_dir(store.layers, store.paths.diff_dir(mount_id_of(store, cid)),
                             store.images.top_layer(image), None)
    finally:
        if frozen:
            _thaw_quietly(store, cid)
    config = _image_config(image, container, layer.diff_id, message, author, changes)
    target = reference.parse(ref) if ref else None
    return store.importer.commit_config(config, target, parent=container["Image"])


def _thaw_quietly(store: StoreContext, cid: str) -> None:
    """Unpause after a commit, even one whose pause half-failed (frozen, but not recorded: a full disk).

    A container left frozen would never die, not even of its monitor's SIGKILL; the commit's own error
    is the one to report.
    """
    try:
        pause(store, cid, False)
    except BerthError:
        from ..runtime.cgroups import for_container

        group = for_container(cid, store.paths.root)
        if group is not None:
            try:
                group.freeze(False)
            except (OSError, KeyError):
                pass
