"""``CheckService``: ``system check`` and ``system df`` over one store.

Checking reads every store at once, so it wraps ``StoreChecker`` (``check.py``)
with the store's shared pieces; a repair appends no event of its own: what it
reclaims are orphans no listing showed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .containers.models import DiskUsage
    from .context import StoreContext
    from .models import CheckReport

__all__ = ["CheckService"]


class CheckService:
    """Whole-store views: consistency (``system check``) and space (``system df``)."""

    def __init__(self, store: StoreContext) -> None:
        self.store = store

    def check(self, *, repair: bool = False) -> CheckReport:
        if repair:
            self.store.writable()
        from .check import StoreChecker

        store = self.store
        return StoreChecker(store.paths, store.layers, store.imagedb, store.tags, store.lock).run(repair)

    def disk_usage(self) -> DiskUsage:
        from .diskusage import disk_usage

        return disk_usage(self.store)
