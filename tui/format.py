"""Docker's ways of printing sizes, ages and columns, shared by the CLI and the app.

Each of ``ps``'s columns is written here once (STATUS, CREATED, SIZE, PORTS,
COMMAND, IMAGE, short IDs): ``berth ps`` and the containers panel must never
disagree on a container.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine import ContainerSummary

__all__ = [
    "COMMAND_WIDTH",
    "command_cell",
    "container_size",
    "container_status",
    "ellipsis",
    "human_duration",
    "human_size",
    "image_cell",
    "ports_text",
    "short_id",
    "since",
    "tabulate",
]

COMMAND_WIDTH = 20
"""Characters of COMMAND that ``ps`` shows before ``…`` (Docker's truncation)."""

_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")


def human_size(size: float, precision: int = 3) -> str:
    """Decimal units, three significant digits: ``122MB``, ``2.76kB``, ``0B`` (progress bars use four)."""
    unit = 0
    while size >= 1000 and unit < len(_UNITS) - 1:
        size /= 1000
        unit += 1
    return f"{size:.{precision}g}{_UNITS[unit]}"


def human_duration(seconds: float) -> str:
    """Docker's coarse durations: ``Less than a second``, ``About an hour``, ``2 weeks``."""
    if seconds < 1:
        return "Less than a second"
    if int(seconds) == 1:
        return "1 second"
    if seconds < 60:
        return f"{int(seconds)} seconds"
    minutes = seconds / 60
    if int(minutes) == 1:
        return "About a minute"
    if minutes < 60:
        return f"{int(minutes)} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600 / 24 / 365)} years"


def since(epoch: float, now: float | None = None) -> str:
    """``2 weeks ago``; ``N/A`` for a missing timestamp."""
    if not epoch:
        return "N/A"
    return human_duration(max(0.0, (now if now is not None else time.time()) - epoch)) + " ago"


def short_id(image_id: str) -> str:
    """The 12 hex digits Docker shows."""
    return image_id.removeprefix("sha256:")[:12]


def ellipsis(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, the last one ``…`` when anything was cut."""
    return text if len(text) <= width else text[: width - 1] + "…"


def container_status(c: ContainerSummary, now: float | None = None) -> str:
    """Docker's STATUS column: ``Up 3 seconds``, ``Up 2 minutes (Paused)``, ``Exited (0) 2 seconds ago``."""
    now = time.time() if now is None else now
    if c.state == "running":
        return "Up " + human_duration(max(0.0, now - c.started_at))
    if c.state == "paused":
        return "Up " + human_duration(max(0.0, now - c.started_at)) + " (Paused)"
    if c.state == "dead":
        return "Dead"
    if c.state == "created" or not c.started_at:
        return "Created"
    if not c.finished_at:
        return ""  # Docker's State.String() for a stop with no finish time
    return f"Exited ({c.exit_code}) {since(c.finished_at, now)}"


def container_size(c: ContainerSummary) -> str:
    """Docker's SIZE column: ``0B (virtual 1.98MB)`` (the writable layer, then the whole root filesystem)."""
    return f"{human_size(c.size_rw or 0)} (virtual {human_size(c.size_root_fs or 0)})"


def image_cell(image: str, no_trunc: bool = False) -> str:
    """Docker's IMAGE column: the name the container was created from, an image ID shortened."""
    return short_id(image) if not no_trunc and image.startswith("sha256:") else image


def command_cell(command: str, no_trunc: bool = False) -> str:
    """Docker's COMMAND column: quoted as JSON, cut to ``COMMAND_WIDTH`` unless ``--no-trunc``."""
    return json.dumps(command if no_trunc else ellipsis(command, COMMAND_WIDTH), ensure_ascii=False)


def ports_text(ports: Mapping[str, Sequence[Mapping[str, Any]] | None]) -> str:
    """Docker's PORTS column: ``0.0.0.0:8080->80/tcp, 443/tcp`` (sorted by port number)."""
    cells = []
    for key, bound in sorted(ports.items(), key=lambda kv: (int(kv[0].split("/")[0]), kv[0])):
        if not bound:
            cells.append(key)
        for b in bound or []:
            cells.append(f"{b['HostIp'] or '0.0.0.0'}:{b['HostPort']}->{key}")
    return ", ".join(cells)


def tabulate(header: Sequence[str], rows: Sequence[Sequence[str]], padding: int = 3) -> str:
    """Columns as Docker's tabwriter lays them out: each as wide as its widest cell plus padding."""
    table = [list(header), *[list(r) for r in rows]]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    lines = []
    for row in table:
        cells = [cell.ljust(widths[i] + padding) for i, cell in enumerate(row[:-1])]
        lines.append(("".join(cells) + row[-1]).rstrip())
    return "\n".join(lines)
