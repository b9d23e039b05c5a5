"""Messages workers post to the app; only their handlers touch widgets.

A fresh list replaces an older one still in the queue (``can_replace``), so a
busy store never floods the app with stale snapshots.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual.message import Message

if TYPE_CHECKING:
    from engine import (
        ContainerSummary,
        DiskUsage,
        HistoryEntry,
        ImageEfficiency,
        ImageSummary,
        LayerContents,
    )

__all__ = [
    "BuildEnded",
    "BuildProgress",
    "ContainersLoaded",
    "DiskUsageLoaded",
    "EfficiencyLoaded",
    "HistoryLoaded",
    "ImagesLoaded",
    "LayerContentsLoaded",
    "StoreChanged",
]


@dataclass
class ImagesLoaded(Message):
    """A fresh list of images; only the newest matters."""

    images: tuple[ImageSummary, ...]

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ImagesLoaded)


@dataclass
class HistoryLoaded(Message):
    """The history rows of one image, newest first."""

    image: str
    rows: tuple[HistoryEntry, ...]

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, HistoryLoaded)


@dataclass
class LayerContentsLoaded(Message):
    """What one layer adds, changes and deletes."""

    contents: LayerContents

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, LayerContentsLoaded)


@dataclass
class EfficiencyLoaded(Message):
    """An image's wasted space and efficiency."""

    efficiency: ImageEfficiency

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, EfficiencyLoaded)


@dataclass
class ContainersLoaded(Message):
    """A fresh ``ps -a -s`` list, or (``ids`` given) fresh rows of just those containers."""

    containers: tuple[ContainerSummary, ...]
    ids: frozenset[str] | None = None
    """The containers this update is about (a missing one was removed); None: the whole list."""

    def can_replace(self, message: Message) -> bool:
        # Textual asks the older message whether the pending newer one supersedes it: a whole list does.
        return isinstance(message, ContainersLoaded) and message.ids is None


@dataclass
class DiskUsageLoaded(Message):
    """A fresh ``system df``; only the newest matters."""

    usage: DiskUsage
    names: dict[str, str]
    """Image ID → a name to show for it."""
    containers: tuple[ContainerSummary, ...] = ()
    """Every container with its writable layer's size (``ps -a -s``)."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, DiskUsageLoaded)


@dataclass
class StoreChanged(Message):
    """Someone (this app or another terminal) changed images or containers."""

    images: bool
    containers: bool
    container_ids: frozenset[str] | None = None
    """Which containers changed, from the event journal; None: reload them all."""

    def can_replace(self, message: Message) -> bool:
        # Textual asks the older message whether the pending newer one supersedes it: only if it covers it.
        if (not isinstance(message, StoreChanged) or self.images > message.images
                or self.containers > message.containers):
            return False
        if not self.containers or message.container_ids is None:
            return True
        return self.container_ids is not None and self.container_ids <= message.container_ids


@dataclass
class BuildProgress(Message, bubble=False):
    """Text a running build printed (classic builder output)."""

    text: str


@dataclass
class BuildEnded(Message, bubble=False):
    """The build finished: the image ID, or the error that stopped it (None when cancelled)."""

    image_id: str
    error: Any = None
