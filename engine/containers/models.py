"""Frozen records the container half of the engine hands to front ends."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["ContainerSummary", "Change", "DiskUsage", "DiskUsageRow"]


@dataclass(frozen=True)
class ContainerSummary:
    """One container as ``ps`` lists it; times are epoch seconds (0 for never)."""

    id: str
    name: str
    image: str
    image_id: str
    command: str
    created: float
    state: str
    """Docker's State.Status: created, running, paused, restarting, exited, dead."""
    exit_code: int
    started_at: float
    finished_at: float
    labels: dict[str, str] = field(default_factory=dict)
    mounts: tuple[str, ...] = ()
    networks: tuple[str, ...] = ()
    ports: dict[str, Any] = field(default_factory=dict)
    """NetworkSettings.Ports while running: ``"80/tcp" → [{"HostIp", "HostPort"}]`` or None (exposed only)."""
    size_rw: int | None = None
    size_root_fs: int | None = None


@dataclass(frozen=True)
class Change:
    """One ``diff`` line: kind A (added), C (changed) or D (deleted), and the container path."""

    kind: str
    path: str


@dataclass(frozen=True)
class DiskUsageRow:
    """One row of ``system df``."""

    type: str
    total: int
    active: int
    size: int
    reclaimable: int


@dataclass(frozen=True)
class DiskUsage:
    """``system df``: the summary rows, and per-image shared/unique sizes for ``-v``."""

    rows: tuple[DiskUsageRow, ...]
    images: tuple[tuple[str, int, int, int, int], ...] = ()
    """(image id, size, shared size, unique size, containers)."""
    volumes: tuple[tuple[str, int, int], ...] = ()
    """(volume name, containers that mount it, size)."""
