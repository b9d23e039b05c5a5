"""``VolumeService``: the ``volume`` verbs over one store.

The volume functions (``containers/volumes.py``) append ``create`` and
``destroy`` themselves, right after the record is made or its tree is gone,
because ``run`` and ``rm -v`` make and remove anonymous volumes there too; a
prune therefore leaves one ``destroy`` per volume it removed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..context import StoreContext
    from .volumes import Volume

__all__ = ["VolumeService"]


class VolumeService:
    """Local volumes of one store: ``volumes/<name>/_data`` and their records."""

    def __init__(self, store: StoreContext) -> None:
        self.store = store

    def create(self, name: str = "", labels: dict[str, str] | None = None) -> Volume:
        from . import volumes

        self.store.writable()
        return volumes.create(self.store, name, labels)

    def volumes(self) -> list[Volume]:
        from . import volumes

        return volumes.list_volumes(self.store)

    def inspect(self, name: str) -> dict[str, Any]:
        from . import volumes

        return volumes.get(self.store, name).inspect()

    def remove(self, name: str, *, force: bool = False) -> None:
        from . import volumes

        self.store.writable()
        volumes.remove(self.store, name, force=force)

    def prune(self) -> tuple[list[str], int]:
        from . import volumes

        self.store.writable()
        return volumes.prune(self.store)
