"""``ImageOps``: the image verbs over one store that need more than ``ImageService``, and their events.

``ImageService`` (``images.py``) is the image store's lookups, tags and
removal, shared by distribution and the checker without a journal; this is
the ``Engine``-facing side: import, bootstrap, tag and ``rmi`` (each appending
its event once the store holds the change) and the views built from several
stores (inspect, layer contents, efficiency).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    from .context import StoreContext
    from .layer_contents import ImageEfficiency, LayerContents
    from .models import HistoryEntry, ImageSummary, RemovedItem

__all__ = ["ImageOps", "journal_removals"]

ChangeFn = Callable[[dict[str, Any]], None]


def journal_removals(store: StoreContext, removed: list[RemovedItem]) -> None:
    """One event per untagged name (``untag``) or deleted image or layer (``delete``): ``rmi``, ``image prune``."""
    for item in removed:
        if item.action == "Untagged":
            store.journal.append("image", "untag", "", item.name)
        else:
            store.journal.append("image", "delete", item.name)


class ImageOps:
    """Images of one store, as the front ends ask for them."""

    def __init__(self, store: StoreContext) -> None:
        self.store = store

    def import_tar(self, source: BinaryIO, *, source_name: str, ref: str | None = None,
                   changes: ChangeFn | None = None, message: str = "",
                   progress: Callable[[int], None] | None = None, cancel: threading.Event | None = None) -> str:
        self.store.writable()
        image_id = self.store.importer.import_tar(
            source, source_name=source_name, ref=ref, config_changes=changes,
            message=message, progress=progress, cancel=cancel,
        )
        self.store.journal.append("image", "import", image_id, ref or "")
        return image_id

    def bootstrap(self, ref: str) -> str:
        self.store.writable()
        image_id = self.store.importer.bootstrap(ref)
        self.store.journal.append("image", "import", image_id, ref)
        return image_id

    def summaries(self, *, all: bool = False) -> list[ImageSummary]:
        """``all`` includes intermediate images (untagged parents of others)."""
        summaries = self.store.images.summaries()
        if all:
            return summaries
        parents = {s.parent for s in summaries if s.parent}
        return [s for s in summaries if s.repo_tags or s.id not in parents]

    def history(self, name: str) -> list[HistoryEntry]:
        images = self.store.images
        return images.history(images.resolve(name))

    def config(self, name: str) -> dict[str, Any]:
        images = self.store.images
        return images.config(images.resolve(name))

    def tag(self, source: str, target: str) -> None:
        self.store.writable()
        image_id = self.store.images.resolve(source)
        self.store.images.tag(image_id, target)
        self.store.journal.append("image", "tag", image_id, target)

    def remove(self, name: str, *, force: bool = False, prune: bool = True) -> list[RemovedItem]:
        self.store.writable()
        removed = self.store.images.remove(name, force=force, prune=prune)
        journal_removals(self.store, removed)
        return removed

    def inspect(self, name: str) -> dict[str, Any]:
        from .inspect import image_inspect

        return image_inspect(self.store, self.store.images.resolve(name))

    def layer_contents(self, name: str, chain_id: str) -> LayerContents:
        from .layer_contents import layer_contents

        return layer_contents(self.store, self.store.images.resolve(name), chain_id)

    def efficiency(self, name: str) -> ImageEfficiency:
        from .layer_contents import image_efficiency

        return image_efficiency(self.store, self.store.images.resolve(name))
