"""``ps``: summaries of containers, filtered, newest first, with sizes on request."""

from __future__ import annotations

import fnmatch
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from ..errors import BerthError, InvalidArgument
from ..rfc3339 import parse_time
from ..store.sizes import dir_size
from .models import ContainerSummary
from .recovery import reconcile

if TYPE_CHECKING:
    from ..context import StoreContext

__all__ = ["list_containers", "summary", "FILTER_KEYS", "container_sizes"]

FILTER_KEYS = ("status", "name", "ancestor", "label", "id", "network", "publish")


def _command(config: dict[str, Any]) -> str:
    """Path and Args joined with spaces (front ends truncate, then quote, as Docker does)."""
    return " ".join([config.get("Path", ""), *config.get("Args", [])]).strip()


def container_sizes(store: StoreContext, cid: str, image_id: str,
                    image_sizes: dict[str, int] | None = None) -> tuple[int, int]:
    """(SizeRw, SizeRootFs): the writable layer's bytes, and those plus the image's.

    ``image_sizes`` caches image sizes across calls: ``ps -s`` reads an image's layers once, not per container.
    """
    from .remove import mount_id_of

    size_rw = dir_size(store.paths.diff_dir(mount_id_of(store, cid)))
    cache = {} if image_sizes is None else image_sizes
    if image_id not in cache:
        try:
            cache[image_id] = sum(layer.size for layer in store.images.image_layers(image_id))
        except Exception:  # the image may be gone (rmi -f); Docker then shows the rw size only
            cache[image_id] = 0
    return size_rw, size_rw + cache[image_id]


def summary(store: StoreContext, config: dict[str, Any], size: bool = False,
            image_sizes: dict[str, int] | None = None) -> ContainerSummary:
    state, cfg = config["State"], config["Config"]
    sizes = container_sizes(store, config["ID"], config["Image"], image_sizes) if size else (None, None)
    return ContainerSummary(
        id=config["ID"], name=config["Name"].lstrip("/"), image=cfg.get("Image") or config["Image"],
        image_id=config["Image"], command=_command(config), created=parse_time(config.get("Created")),
        state=state.get("Status", "created"), exit_code=int(state.get("ExitCode", 0)),
        started_at=parse_time(state.get("StartedAt")), finished_at=parse_time(state.get("FinishedAt")),
        labels=dict(cfg.get("Labels") or {}), mounts=tuple(config.get("MountPoints", {})),
        networks=tuple(config.get("NetworkSettings", {}).get("Networks", {})),
        ports=dict(config.get("NetworkSettings", {}).get("Ports") or {}) if state.get("Running") else {},
        size_rw=sizes[0], size_root_fs=sizes[1],
    )


def parse_filters(items: list[str]) -> list[tuple[str, str]]:
    out = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or key not in FILTER_KEYS:
            raise InvalidArgument(f"invalid filter '{item}' (use {', '.join(k + '=' for k in FILTER_KEYS)})")
        out.append((key, value))
    return out


def _matches(store: StoreContext, s: ContainerSummary, key: str, value: str) -> bool:
    if key == "status":
        return s.state == value
    if key == "name":
        return value.lstrip("/") in s.name or fnmatch.fnmatchcase(s.name, value.lstrip("/"))
    if key == "id":
        return s.id.startswith(value)
    if key == "network":
        return value in s.networks
    if key == "publish":  # a published container port (80, 80/udp) or host port (8080/tcp when published)
        want = value if "/" in value else value + "/tcp"
        return any(want == k or want.split("/")[0] in (b.get("HostPort") for b in (v or []))
                   for k, v in s.ports.items() if v)
    if key == "label":
        name, sep, want = value.partition("=")
        return name in s.labels and (not sep or s.labels[name] == want)
    try:
        return store.images.resolve(value) == s.image_id or s.image == value
    except Exception:
        return s.image == value


def list_containers(store: StoreContext, *, all: bool = False, filters: list[str] | None = None, last: int = -1,
                    size: bool = False, ids: Collection[str] | None = None) -> list[ContainerSummary]:
    """Containers newest first: running ones only unless ``all`` (or ``last``) asks for every one."""
    conditions = parse_filters(filters or [])
    configs = reconcile(store, store.records.all() if ids is None else _records(store, ids))
    configs.sort(key=lambda c: c.get("Created", ""), reverse=True)
    if last >= 0:
        configs = configs[:last]
    elif not all and not any(k == "status" for k, _ in conditions):
        configs = [c for c in configs if c["State"].get("Running")]
    out = []
    image_sizes: dict[str, int] = {}
    for config in configs:
        s = summary(store, config)
        if all_of(store, s, conditions):
            out.append(summary(store, config, size=True, image_sizes=image_sizes) if size else s)
    return out


def all_of(store: StoreContext, s: ContainerSummary, conditions: list[tuple[str, str]]) -> bool:
    """Docker: values of one key are alternatives (OR); different keys must all hold (AND)."""
    by_key: dict[str, list[str]] = {}
    for key, value in conditions:
        by_key.setdefault(key, []).append(value)
    return all(any(_matches(store, s, key, v) for v in values) for key, values in by_key.items())


def _records(store: StoreContext, ids: Collection[str]) -> list[dict[str, Any]]:
    """The configs of ``ids`` that still exist."""
    configs = []
    for cid in ids:
        try:
            configs.append(store.records.load(cid))
        except BerthError:  # removed meanwhile
            continue
    return configs
