"""Messages workers post to the app; only their handlers touch widgets.

A fresh list replaces an older one still in the queue (``can_replace``), so a
busy store never floods the app with stale snapshots.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual.message import Message

if TYPE_CHECKING:
    from engine.containers.models import ContainerSummary, DiskUsage
    from engine.layer_contents import ImageEfficiency, LayerContents
    from engine.models import HistoryEntry, ImageSummary

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
    """A fresh ``ps -a -s`` list; only the newest matters."""

    containers: tuple[ContainerSummary, ...]

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ContainersLoaded)


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

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StoreChanged) and message.images <= self.images and message.containers <= self.containers


@dataclass
class BuildProgress(Message, bubble=False):
    """Text a running build printed (classic builder output)."""

    text: str


@dataclass
class BuildEnded(Message, bubble=False):
    """The build finished: the image ID, or the error that stopped it (None when cancelled)."""

    image_id: str
    error: Any = None
