"""``image prune``: remove the images a build leaves behind once nothing names or needs them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import ImageInUse, ImageNotFound
from ..models import RemovedItem

if TYPE_CHECKING:
    from ..context import StoreContext

__all__ = ["prune_images"]


def _candidates(store: StoreContext, all: bool) -> list[str]:
    """Top-level images to delete: untagged (or, with ``all``, any) with no child image and no container."""
    images = store.images
    out: list[str] = []
    for image_id in store.imagedb.list():
        if store.imagedb.children(image_id) or images.containers_using(image_id):
            continue
        if all or not store.tags.refs_for(image_id):
            out.append(image_id)
    return out


def prune_images(store: StoreContext, *, all: bool = False) -> tuple[list[RemovedItem], int]:
    """Delete dangling images (and, like ``rmi``, their untagged parents); returns what went and bytes freed."""
    removed: list[RemovedItem] = []
    freed = 0
    with store.lock:
        for image_id in _candidates(store, all):
            try:
                sizes = {layer.chain_id: layer.size for layer in store.images.image_layers(image_id)}
                items = store.images.remove(image_id, force=all)
            except (ImageNotFound, ImageInUse):
                continue  # went away meanwhile, or gained a user: leave it
            removed += items
            freed += sum(sizes.get(item.name, 0) for item in items if item.action == "Deleted")
    return removed, freed
