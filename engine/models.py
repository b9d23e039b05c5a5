"""Frozen records the engine hands to its front ends."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ImageSummary", "HistoryEntry", "RemovedItem", "CheckProblem", "CheckReport", "Progress"]


@dataclass(frozen=True)
class ImageSummary:
    """One image as ``berth images`` lists it."""

    id: str
    repo_tags: tuple[str, ...]
    created: float
    size: int
    parent: str | None
    layers: int
    containers: int = 0


@dataclass(frozen=True)
class HistoryEntry:
    """One row of ``berth history``: a Dockerfile step, with or without a layer."""

    id: str
    created: float
    created_by: str
    size: int
    comment: str
    empty_layer: bool
    tags: tuple[str, ...] = ()
    chain_id: str | None = None


@dataclass(frozen=True)
class RemovedItem:
    """One line of ``berth rmi`` output: ``Untagged`` or ``Deleted``."""

    action: str
    name: str


@dataclass(frozen=True)
class CheckProblem:
    """Something ``system check`` found wrong; ``repairable`` when --repair can fix it."""

    kind: str
    path: str
    detail: str
    repairable: bool = True


@dataclass(frozen=True)
class CheckReport:
    """What ``system check`` found, and what ``--repair`` fixed."""

    problems: tuple[CheckProblem, ...] = ()
    repaired: tuple[CheckProblem, ...] = ()
    layers: int = 0
    images: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class Progress:
    """A step of a long operation: ``current`` of ``total`` units (total 0 when unknown)."""

    action: str
    current: int = 0
    total: int = 0
    detail: str = field(default="")
