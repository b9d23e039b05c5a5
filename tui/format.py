"""Docker's ways of printing sizes, ages and columns, shared by the CLI and the app."""

from __future__ import annotations

import time
from collections.abc import Sequence

__all__ = ["human_size", "human_duration", "since", "short_id", "tabulate"]

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


def tabulate(header: Sequence[str], rows: Sequence[Sequence[str]], padding: int = 3) -> str:
    """Columns as Docker's tabwriter lays them out: each as wide as its widest cell plus padding."""
    table = [list(header), *[list(r) for r in rows]]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    lines = []
    for row in table:
        cells = [cell.ljust(widths[i] + padding) for i, cell in enumerate(row[:-1])]
        lines.append(("".join(cells) + row[-1]).rstrip())
    return "\n".join(lines)
