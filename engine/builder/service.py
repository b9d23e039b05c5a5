"""``BuildService``: ``build`` and ``image prune`` over one store, and their events.

A build appends one ``image build`` event for its final image (the
intermediate images are its steps, not changes anyone follows); a prune one
``untag`` or ``delete`` per item it removed, as ``rmi`` does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    from ..context import StoreContext
    from ..models import RemovedItem

__all__ = ["BuildService"]


class BuildService:
    """Dockerfile builds and the pruning of the images they leave behind."""

    def __init__(self, store: StoreContext) -> None:
        self.store = store

    def build(self, context: str | BinaryIO, *, dockerfile: str | None = None,
              tags: tuple[str, ...] | list[str] = (), build_args: dict[str, str] | None = None,
              no_cache: bool = False, target: str | None = None, progress: Callable[[Any], None] | None = None,
              cancel: threading.Event | None = None, network: str = "default") -> str:
        from .builder import BuildOptions, build_image

        self.store.writable()
        options = BuildOptions(dockerfile, tuple(tags), dict(build_args or {}), no_cache, target, network)
        image_id = build_image(self.store, context, options, progress, cancel)
        self.store.journal.append("image", "build", image_id, ",".join(tags))
        return image_id

    def prune(self, *, all: bool = False) -> tuple[list[RemovedItem], int]:
        from ..imageops import journal_removals
        from .prune import prune_images

        self.store.writable()
        removed, freed = prune_images(self.store, all=all)
        journal_removals(self.store, removed)
        return removed, freed
