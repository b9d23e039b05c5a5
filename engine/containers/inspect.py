"""Docker's ``container inspect`` JSON, from the container's records."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from ..inspect import container_config_shape
from ..store.paths import LINK_DIR

if TYPE_CHECKING:
    from ..context import StoreContext

__all__ = ["container_inspect"]


def _graph_driver(store: StoreContext, mount_id: str) -> dict[str, Any]:
    """Docker's GraphDriver.Data: absolute lower/upper/work/merged paths of the container's overlay."""
    overlay = store.paths.overlay
    lowers = [os.path.realpath(os.path.join(overlay, lower)) for lower in store.rwlayers.lowers(mount_id)
              if lower.startswith(LINK_DIR + "/")]
    return {"Name": "overlay2", "Data": {
        "LowerDir": ":".join(lowers), "MergedDir": store.paths.merged_dir(mount_id),
        "UpperDir": store.paths.diff_dir(mount_id), "WorkDir": store.paths.work_dir(mount_id),
    }}


def _mount(point: dict[str, Any]) -> dict[str, Any]:
    """One entry of Docker's ``Mounts``: volumes name their volume and driver, binds do not."""
    keys: tuple[str, ...] = ("Type", "Name", "Source", "Destination", "Driver", "Mode", "RW", "Propagation")
    if point.get("Type") != "volume":
        keys = ("Type", "Source", "Destination", "Mode", "RW", "Propagation")
    return {k: point.get(k, "") for k in keys}


def container_inspect(store: StoreContext, config: dict[str, Any], size: bool = False) -> dict[str, Any]:
    from .listing import container_sizes
    from .remove import mount_id_of

    cid = config["ID"]
    mount_id = mount_id_of(store, cid)
    out: dict[str, Any] = {
        "Id": cid, "Created": config["Created"], "Path": config["Path"], "Args": config["Args"],
        "State": config["State"], "Image": config["Image"], "ResolvConfPath": config["ResolvConfPath"],
        "HostnamePath": config["HostnamePath"], "HostsPath": config["HostsPath"], "LogPath": config["LogPath"],
        "Name": config["Name"], "RestartCount": config.get("RestartCount", 0), "Driver": "overlay2",
        "Platform": "linux", "HostConfig": store.records.load_host(cid),
        "GraphDriver": _graph_driver(store, mount_id),
        "Mounts": [_mount(m) for m in (config.get("MountPoints") or {}).values()],
        "Config": container_config_shape(config["Config"]),
        "NetworkSettings": config.get("NetworkSettings", {}),
    }
    if size:
        out["SizeRw"], out["SizeRootFs"] = container_sizes(store, cid, config["Image"])
    return out
