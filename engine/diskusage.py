"""``system df``: images, containers, volumes and build cache, with shared layers counted once."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from .containers.models import DiskUsage, DiskUsageRow

if TYPE_CHECKING:
    from .engine import Engine

__all__ = ["disk_usage"]


def _image_rows(engine: "Engine", users: Counter[str]) -> tuple[DiskUsageRow, list[tuple[str, int, int, int, int]]]:
    """Images row and per-image (id, size, shared, unique, containers); a layer used by two images is shared."""
    chains = {image_id: engine.images.image_layers(image_id) for image_id in engine.imagedb.list()}
    refs = Counter(layer.chain_id for layers in chains.values() for layer in {x.chain_id: x for x in layers}.values())
    sizes = {layer.chain_id: layer.size for layers in chains.values() for layer in layers}
    per_image = []
    for image_id, layers in chains.items():
        own = {layer.chain_id for layer in layers}
        shared = sum(sizes[c] for c in own if refs[c] > 1)
        unique = sum(sizes[c] for c in own if refs[c] == 1)
        per_image.append((image_id, shared + unique, shared, unique, users[image_id]))
    total = sum(sizes.values())
    in_use = {c for image_id, layers in chains.items() if users[image_id] for c in (x.chain_id for x in layers)}
    reclaimable = total - sum(sizes[c] for c in in_use)
    active = sum(1 for image_id in chains if users[image_id])
    return DiskUsageRow("Images", len(chains), active, total, reclaimable), per_image


def containers_using_volumes(engine: "Engine") -> set[str]:
    """Names of named volumes some container (running or not) mounts."""
    return {p["Name"] for c in engine.containers.all() for p in (c.get("MountPoints") or {}).values()
            if p.get("Type") == "volume"}


def _volume_row(engine: "Engine", used: set[str]) -> DiskUsageRow:
    """Local Volumes: every dir under volumes/, its ``_data`` size; unused ones are reclaimable."""
    import os

    from .store.sizes import dir_size

    try:
        names = [n for n in os.listdir(engine.paths.volumes) if not n.startswith(".")]
    except FileNotFoundError:
        names = []
    sizes = {n: dir_size(engine.paths.volume_data(n)) for n in names}
    active = [n for n in names if n in used]
    return DiskUsageRow("Local Volumes", len(names), len(active), sum(sizes.values()),
                        sum(size for n, size in sizes.items() if n not in used))


def disk_usage(engine: "Engine") -> DiskUsage:
    """Docker's four rows; the build cache row stays empty (the builder keeps no cache outside images)."""
    from .containers.listing import list_containers

    containers = list_containers(engine, all=True, size=True)
    users = Counter(c.image_id for c in containers)
    images, per_image = _image_rows(engine, users)
    rw_total = sum(c.size_rw or 0 for c in containers)
    rw_idle = sum(c.size_rw or 0 for c in containers if c.state not in ("running", "paused"))
    running = sum(1 for c in containers if c.state in ("running", "paused"))
    rows = (
        images,
        DiskUsageRow("Containers", len(containers), running, rw_total, rw_idle),
        _volume_row(engine, containers_using_volumes(engine)),
        DiskUsageRow("Build Cache", 0, 0, 0, 0),
    )
    return DiskUsage(rows, tuple(per_image))
