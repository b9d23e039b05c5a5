"""Docker's picture of a transfer: one line per blob, ``<id>: <status> [===>   ]  1.2MB/4.3MB``.

Shared by the CLI (pull, push, save, load) and the app's transfer dialogs, so
both draw a ``TransferProgress`` the same way.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from .format import human_size

if TYPE_CHECKING:
    from engine.distribution import TransferProgress

__all__ = ["BAR_MIN_WIDTH", "TransferLines", "progress_line"]

BAR_WIDTH = 50
BAR_MIN_WIDTH = 110
"""Docker draws the bar only on terminals wider than this; narrower ones get the numbers alone."""
_COUNTED = frozenset({"Downloading", "Extracting", "Pushing", "Writing"})


def progress_line(item: TransferProgress, width: int = 120) -> str:
    """One blob's line as Docker prints it on a terminal of ``width`` columns."""
    text = f"{item.id}: {item.action}"
    if item.action not in _COUNTED or (item.current <= 0 and item.total <= 0):
        return text
    done = human_size(item.current, 4)
    if item.total <= 0:
        return f"{text} {done:>8}"
    filled = min(BAR_WIDTH, int(item.current * 100 / item.total) // 2)
    bar = f"[{'=' * filled}>{' ' * (BAR_WIDTH - filled)}] " if width > BAR_MIN_WIDTH else ""
    return f"{text} {bar}{done:>8}/{human_size(item.total, 4)}"


class TransferLines:
    """The latest item of every blob, in the order the blobs first showed up; fed from any thread."""

    def __init__(self) -> None:
        self._items: dict[str, TransferProgress] = {}
        self._lock = threading.Lock()

    def update(self, item: TransferProgress) -> bool:
        """Take the item; True when it changes its blob's status (worth drawing at once)."""
        with self._lock:
            before = self._items.get(item.id)
            self._items[item.id] = item
        return before is None or before.action != item.action

    def lines(self, width: int = 120) -> list[str]:
        with self._lock:
            items = list(self._items.values())
        return [progress_line(item, width) for item in items]
