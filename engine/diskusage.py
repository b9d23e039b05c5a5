"""``system df``: images, containers, volumes and build cache, with shared layers counted once."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from .containers.models import DiskUsage, DiskUsageRow
from .errors import BerthError

if TYPE_CHECKING:
    from .context import StoreContext

__all__ = ["disk_usage"]


def _image_rows(store: StoreContext, users: Counter[str]) -> tuple[DiskUsageRow, list[tuple[str, int, int, int, int]]]:
    """Images row and per-image (id, size, shared, unique, containers); a layer used by two images is shared."""
    chains = {}
    for image_id in sorted(store.imagedb.list()):
        try:
            chains[image_id] = store.images.image_layers(image_id)
        except (BerthError, ValueError, OSError):
            continue  # removed under us, or torn: system check lists it

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


def _volume_rows(store: StoreContext) -> tuple[DiskUsageRow, list[tuple[str, int, int]]]:
    """Local Volumes: each volume's ``_data`` size; one no container mounts is reclaimable. Also (name, links, size)."""
    from .containers.volumes import list_volumes, users
    from .store.sizes import dir_size

    links = {name: len(ids) for name, ids in users(store).items()}
    per_volume = [(v.name, links.get(v.name, 0), dir_size(v.mountpoint)) for v in list_volumes(store)]
    row = DiskUsageRow("Local Volumes", len(per_volume), sum(1 for _, n, _ in per_volume if n),
                       sum(size for *_, size in per_volume), sum(size for _, n, size in per_volume if not n))
    return row, per_volume


def _download_rows(store: StoreContext) -> tuple[DiskUsageRow, ...]:
    """Blobs in the pull download dir (a row Docker does not have, shown only when there are some).

    Active: held by a running pull. Reclaimable: the rest, which ``system check --repair`` removes.
    """
    from .distribution.downloads import download_files

    blobs = [f for f in download_files(store.root) if not f.path.endswith(".lock")]
    if not blobs:
        return ()
    return (DiskUsageRow("Pull Downloads", len(blobs), sum(1 for f in blobs if f.held), sum(f.size for f in blobs),
                         sum(f.size for f in blobs if not f.held)),)


def disk_usage(store: StoreContext) -> DiskUsage:
    """Docker's four rows; the build cache row stays empty (the builder keeps no cache outside images)."""
    from .containers.listing import list_containers

    containers = list_containers(store, all=True, size=True)
    users = Counter(c.image_id for c in containers)
    images, per_image = _image_rows(store, users)
    rw_total = sum(c.size_rw or 0 for c in containers)
    rw_idle = sum(c.size_rw or 0 for c in containers if c.state not in ("running", "paused"))
    running = sum(1 for c in containers if c.state in ("running", "paused"))
    volumes, per_volume = _volume_rows(store)
    rows = (
        images,
        DiskUsageRow("Containers", len(containers), running, rw_total, rw_idle),
        volumes,
        DiskUsageRow("Build Cache", 0, 0, 0, 0),
    ) + _download_rows(store)
    return DiskUsage(rows, tuple(per_image), tuple(per_volume))
