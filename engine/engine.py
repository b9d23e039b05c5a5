"""``Engine``: the one facade the front ends call."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from typing import Any, BinaryIO

from .check import StoreChecker
from .errors import NotRoot, StoreCorrupt
from .images import ImageService
from .importer import Importer
from .models import CheckReport, HistoryEntry, ImageSummary, RemovedItem
from .store.images import ImageDB
from .store.layers import LayerStore
from .store.locks import get_lock
from .store.paths import DEFAULT_ROOT, StorePaths
from .store.tags import TagStore

__all__ = ["Engine"]

ChangeFn = Callable[[dict[str, Any]], None]


class Engine:
    """One store root and everything done to it.

    Args:
        root: the store root; created on first write.
    """

    def __init__(self, root: str = DEFAULT_ROOT) -> None:
        self.root = os.path.abspath(root)
        self.paths = StorePaths(self.root)
        self.lock = get_lock(self.paths.lock)
        self.layers = LayerStore(self.paths, self.lock)
        self.imagedb = ImageDB(self.paths)
        self.tags = TagStore(self.paths)
        self.images = ImageService(self.paths, self.layers, self.imagedb, self.tags, self.lock)
        self._importer = Importer(self.layers, self.imagedb, self.tags, self.lock)

    def _writable(self) -> None:
        if os.geteuid() != 0:
            raise NotRoot("berth needs root to change the store (it mounts overlays): run it with sudo")
        try:
            os.makedirs(self.root, 0o711, exist_ok=True)
        except OSError as err:
            raise StoreCorrupt(f"cannot create store root {self.root}: {err.strerror}") from err

    # -- images --------------------------------------------------------------

    def image_import(
        self,
        source: BinaryIO,
        *,
        source_name: str,
        ref: str | None = None,
        changes: ChangeFn | None = None,
        message: str = "",
        progress: Callable[[int], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> str:
        """Import a root filesystem tarball (any compression) as a one-layer image.

        Args:
            source: the tarball stream; need not be seekable.
            source_name: shown in errors and in the history comment (``-`` for stdin).
            ref: optional ``REPO[:TAG]`` to tag the image with.
            changes: applied to the image's ``config`` (``-c CMD …`` and friends).
            progress: called with the compressed bytes read so far.
            cancel: set it to stop; the store is left as before.

        Returns:
            The new image's ID.

        Raises:
            ArchiveError: unreadable or unsafe tarball.
            InvalidReference: ``ref`` is not a valid name.
        """
        self._writable()
        return self._importer.import_tar(
            source, source_name=source_name, ref=ref, config_changes=changes,
            message=message, progress=progress, cancel=cancel,
        )

    def image_bootstrap(self, ref: str = "busybox:latest") -> str:
        """Make a small base image from the host's busybox-static.

        Raises:
            MissingDependency: /bin/busybox is missing or not static.
        """
        self._writable()
        return self._importer.bootstrap(ref)

    def image_list(self, *, all: bool = False) -> list[ImageSummary]:
        """Images as ``berth images`` shows them; ``all`` includes intermediate images."""
        summaries = self.images.summaries()
        if all:
            return summaries
        parents = {s.parent for s in summaries if s.parent}
        return [s for s in summaries if s.repo_tags or s.id not in parents]

    def image_resolve(self, name: str) -> str:
        """The image ID a name, ID or ID prefix stands for."""
        return self.images.resolve(name)

    def image_history(self, name: str) -> list[HistoryEntry]:
        """``berth history`` rows, newest first."""
        return self.images.history(self.images.resolve(name))

    def image_config(self, name: str) -> dict[str, Any]:
        """The OCI image config of an image."""
        return self.images.config(self.images.resolve(name))

    def image_tag(self, source: str, target: str) -> None:
        """Point ``target`` at the image ``source`` names."""
        self._writable()
        self.images.tag(self.images.resolve(source), target)

    def image_remove(self, name: str, *, force: bool = False, prune: bool = True) -> list[RemovedItem]:
        """``rmi``: untag, and delete what nothing else needs.

        Raises:
            ImageNotFound, ImageInUse, ImageConflict.
        """
        self._writable()
        return self.images.remove(name, force=force, prune=prune)

    def image_inspect(self, name: str) -> dict[str, Any]:
        """Docker's ``image inspect`` JSON for one image."""
        from .inspect import image_inspect

        return image_inspect(self, self.images.resolve(name))

    # -- system --------------------------------------------------------------

    def system_check(self, *, repair: bool = False) -> CheckReport:
        """Verify the whole store; with ``repair``, reclaim orphans and stale mounts."""
        if repair:
            self._writable()
        return StoreChecker(self.paths, self.layers, self.imagedb, self.tags, self.lock).run(repair)


def _dump(data: Any) -> str:
    return json.dumps(data, indent=4)
