"""Docker's ``inspect`` JSON shapes, built from the store's records."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .context import StoreContext

__all__ = ["image_inspect", "container_config_shape"]

_CONFIG_KEYS = (
    ("Hostname", ""), ("Domainname", ""), ("User", ""), ("AttachStdin", False), ("AttachStdout", False),
    ("AttachStderr", False), ("ExposedPorts", None), ("Tty", False), ("OpenStdin", False), ("StdinOnce", False),
    ("Env", None), ("Cmd", None), ("Healthcheck", None), ("ArgsEscaped", None), ("Image", ""), ("Volumes", None),
    ("WorkingDir", ""), ("Entrypoint", None), ("OnBuild", None), ("Labels", None), ("StopSignal", None),
    ("Shell", None),
)


def container_config_shape(config: dict[str, Any]) -> dict[str, Any]:
    """An OCI ``config`` object in the full shape Docker prints, keeping only set optional keys."""
    out: dict[str, Any] = {}
    for key, default in _CONFIG_KEYS:
        if key in config:
            out[key] = config[key]
        elif key not in ("Healthcheck", "ArgsEscaped", "ExposedPorts", "StopSignal", "Shell"):
            out[key] = default
    return out


def image_inspect(store: StoreContext, image_id: str) -> dict[str, Any]:
    config = store.images.config(image_id)
    layers = store.images.image_layers(image_id)
    size = sum(layer.size for layer in layers)
    refs = store.tags.refs_for(image_id)
    return {
        "Id": image_id,
        "RepoTags": [r for r in refs if "@" not in r],
        "RepoDigests": [r for r in refs if "@" in r],
        "Parent": store.imagedb.get_parent(image_id) or "",
        "Comment": _comment(config),
        "Created": config.get("created", ""),
        "Container": config.get("container", ""),
        "ContainerConfig": container_config_shape(config.get("container_config") or {}),
        "DockerVersion": config.get("docker_version", ""),
        "Author": config.get("author", ""),
        "Config": container_config_shape(config.get("config") or {}),
        "Architecture": config.get("architecture", ""),
        "Os": config.get("os", ""),
        "Size": size,
        "VirtualSize": size,
        "GraphDriver": {"Data": _graph_driver_data(store, layers), "Name": "overlay2"},
        "RootFS": {"Type": "layers", "Layers": list(config.get("rootfs", {}).get("diff_ids", []))},
        "Metadata": {"LastTagTime": store.imagedb.get_last_tag_time(image_id) or "0001-01-01T00:00:00Z"},
    }


def _comment(config: dict[str, Any]) -> str:
    history = config.get("history") or []
    return history[-1].get("comment", "") if history else ""


def _graph_driver_data(store: StoreContext, layers: list[Any]) -> dict[str, str]:
    """Real paths, as Docker reports them: the top layer's dirs, and the lower chain resolved."""
    if not layers:
        return {}
    paths = store.paths
    top = layers[-1].cache_id
    data = {
        "MergedDir": paths.merged_dir(top),
        "UpperDir": paths.diff_dir(top),
        "WorkDir": paths.work_dir(top),
    }
    if len(layers) > 1:
        data["LowerDir"] = ":".join(paths.diff_dir(layer.cache_id) for layer in reversed(layers[:-1]))
    return dict(sorted(data.items()))

