"""Docker's picture of a transfer: one line per blob, ``<id>: <status> [===>   ]  1.2MB/4.3MB``.

Shared by the CLI (pull, push, save, load) and the app's transfer dialogs, so
both draw a ``TransferProgress`` the same way.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from .format import human_size

if TYPE_CHECKING:
    from engine import PullResult, TransferProgress

__all__ = ["BAR_MIN_WIDTH", "BAR_WIDTH", "TransferLines", "progress_bar", "progress_line", "pull_intro",
           "pull_outcome"]

BAR_WIDTH = 50
BAR_MIN_WIDTH = 110
"""Docker draws the bar only on terminals wider than this; narrower ones get the numbers alone."""
_COUNTED = frozenset({"Downloading", "Extracting", "Pushing", "Writing"})


def progress_bar(current: int, total: int, width: int = BAR_WIDTH) -> str:
    """Docker's ``[=====>    ]`` for ``current`` of ``total`` (> 0) bytes; ``width`` cells of ``=`` at 100 %."""
    filled = min(width, int(current * 100 / total) * width // 100)
    return f"[{'=' * filled}>{' ' * (width - filled)}]"


def progress_line(item: TransferProgress, width: int = 120, bar_width: int | None = None) -> str:
    """One blob's line as Docker prints it on a terminal of ``width`` columns.

    ``bar_width`` sizes the bar for a narrower place (a dialog) that still wants
    one; 0 leaves it out. By default the bar is Docker's: 50 cells, only when
    ``width`` is over ``BAR_MIN_WIDTH``.
    """
    text = f"{item.id}: {item.action}"
    if item.action not in _COUNTED or (item.current <= 0 and item.total <= 0):
        return text
    done = human_size(item.current, 4)
    if item.total <= 0:
        return f"{text} {done:>8}"
    if bar_width is None:
        bar_width = BAR_WIDTH if width > BAR_MIN_WIDTH else 0
    bar = f"{progress_bar(item.current, item.total, bar_width)} " if bar_width > 0 else ""
    return f"{text} {bar}{done:>8}/{human_size(item.total, 4)}"


def pull_intro(name: str) -> list[str]:
    """Docker's lines before a pull's blobs: ``Using default tag: latest`` (no tag given), ``TAG: Pulling from REPO``.

    Raises:
        InvalidReference: ``name`` is no image reference.
    """
    from engine import parse_reference

    ref = parse_reference(name)
    lines = []
    if ref.digest is None and ":" not in name.rsplit("/", 1)[-1]:
        lines.append(f"Using default tag: {ref.tag}")
    lines.append(f"{ref.tag or ref.digest}: Pulling from {ref.path}")
    return lines


def pull_outcome(name: str, result: PullResult) -> list[str]:
    """Docker's lines after a pull: the manifest digest, and whether the tag now names a new image."""
    from engine import parse_reference

    status = "Downloaded newer image for" if result.updated else "Image is up to date for"
    return [f"Digest: {result.digest}", f"Status: {status} {parse_reference(name)}"]


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

    def lines(self, width: int = 120, bar_width: int | None = None) -> list[str]:
        """Every blob's line, as ``progress_line`` draws it."""
        with self._lock:
            items = list(self._items.values())
        return [progress_line(item, width, bar_width) for item in items]
