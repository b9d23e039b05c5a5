"""``StoreContext``: one store root and the pieces every service shares.

The services (containers, images, networks, volumes, build, distribution,
check) and the monitor are each built from one context, so they all see the
same lock, the same records and the same journal, and none of them needs the
``Engine`` facade. The stores load on first use: ``logs``, ``ps`` or ``rm``
need few of them, and start-up time matters.
"""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING

from .errors import BerthError, NotRoot, StoreCorrupt
from .store.locks import get_lock
from .store.paths import DEFAULT_ROOT, StorePaths

if TYPE_CHECKING:
    from .containers.records import ContainerRecords
    from .events import EventJournal
    from .images import ImageService
    from .importer import Importer
    from .store.images import ImageDB
    from .store.layers import LayerStore
    from .store.rwlayers import RWLayerStore
    from .store.tags import TagStore

__all__ = ["StoreContext"]


class StoreContext:
    """The store at ``root``: its paths, its lock, and its stores, each loaded when first asked for.

    Args:
        root: the store root; created on first write (``writable``).
    """

    def __init__(self, root: str = DEFAULT_ROOT) -> None:
        self.root = os.path.abspath(root)
        self.paths = StorePaths(self.root)
        self.lock = get_lock(self.paths.lock)

    @functools.cached_property
    def layers(self) -> LayerStore:
        from .store.layers import LayerStore

        return LayerStore(self.paths, self.lock)

    @functools.cached_property
    def imagedb(self) -> ImageDB:
        from .store.images import ImageDB

        return ImageDB(self.paths)

    @functools.cached_property
    def tags(self) -> TagStore:
        from .store.tags import TagStore

        return TagStore(self.paths)

    @functools.cached_property
    def images(self) -> ImageService:
        from .images import ImageService

        return ImageService(self.paths, self.layers, self.imagedb, self.tags, self.lock)

    @functools.cached_property
    def records(self) -> ContainerRecords:
        """The records under containers/ (read without locks; writers lock per container)."""
        from .containers.records import ContainerRecords

        return ContainerRecords(self.paths)

    @functools.cached_property
    def rwlayers(self) -> RWLayerStore:
        """Writable layers (``<mount-id>`` and ``<mount-id>-init``) of containers."""
        from .store.rwlayers import RWLayerStore

        return RWLayerStore(self.paths, self.layers)

    @functools.cached_property
    def journal(self) -> EventJournal:
        """Every change, appended by the service that made it, after it is durable, for other processes."""
        from .events import EventJournal

        return EventJournal(self.paths.events)

    @functools.cached_property
    def importer(self) -> Importer:
        """Loaded on first use: most commands never write images, and start-up time matters."""
        from .importer import Importer

        return Importer(self.layers, self.imagedb, self.tags, self.lock)

    def writable(self) -> None:
        """Refuse a change early (not root), and make the store root on the first one.

        Raises:
            NotRoot: not running as root (changes mount overlays).
            StoreCorrupt: the root cannot be created.
        """
        if os.geteuid() != 0:
            raise NotRoot("berth needs root to change the store (it mounts overlays): run it with sudo")
        try:
            os.makedirs(self.root, 0o711, exist_ok=True)
        except OSError as err:
            raise StoreCorrupt(f"cannot create store root {self.root}: {err.strerror}") from err

    def container_label(self, cid: str) -> str:
        """The container's name without its ``/``, for an event; "" when its record is unreadable or gone."""
        try:
            return str(self.records.load(cid).get("Name", "")).lstrip("/")
        except BerthError:
            return ""
