"""Messages workers post to the app; only their handlers touch widgets."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from engine.models import ImageSummary

__all__ = ["ImagesLoaded"]


@dataclass
class ImagesLoaded(Message):
    """A fresh list of images; only the newest matters."""

    images: tuple[ImageSummary, ...]

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ImagesLoaded)
