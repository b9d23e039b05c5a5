"""What each prune in the app removes: how to list it first (the preview) and how to do it.

One table, so the images, containers and volumes prunes ask, preview and report alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .format import short_id

if TYPE_CHECKING:
    from engine import Engine

__all__ = ["PRUNES", "Prune"]


@dataclass(frozen=True)
class Prune:
    title: str
    noun: str
    """What goes, in the plural: "dangling images"."""
    candidates: Callable[[Engine], list[tuple[str, int]]]
    """(label, bytes) of everything the prune would remove now."""
    run: Callable[[Engine], tuple[list[Any], int]]
    """The engine call: (what was removed, bytes reclaimed)."""
    warning: str = ""


def _dangling_images(engine: Engine) -> list[tuple[str, int]]:
    images = engine.image_list(all=True)
    parents = {i.parent for i in images if i.parent}
    return [(short_id(i.id), i.size) for i in images if not i.repo_tags and not i.containers and i.id not in parents]


def _stopped_containers(engine: Engine) -> list[tuple[str, int]]:
    return [(f"{short_id(c.id)}  {c.name}", c.size_rw or 0) for c in engine.container_list(all=True, size=True)
            if c.state not in ("running", "paused")]


def _unused_volumes(engine: Engine) -> list[tuple[str, int]]:
    return [(name, size) for name, links, size in engine.system_df().volumes if not links]


PRUNES = {
    "images": Prune("Prune images", "dangling images", _dangling_images, lambda engine: engine.image_prune()),
    "containers": Prune("Prune containers", "stopped containers", _stopped_containers,
                        lambda engine: engine.container_prune()),
    "volumes": Prune("Prune volumes", "unused volumes", _unused_volumes, lambda engine: engine.volume_prune(),
                     warning="Their data is deleted."),
}
