"""Progress of a save, load, pull or push, as data the front ends render."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["ProgressFn", "TransferProgress", "report"]


@dataclass(frozen=True)
class TransferProgress:
    """Where one blob (a layer or a config) has got to."""

    id: str
    """Short ID of the blob, as Docker prints it (12 hex digits)."""
    action: str
    """``Waiting``, ``Downloading``, ``Verifying``, ``Extracting``, ``Pushing``, ``Writing``,
    ``Already exists``, ``Mounted``, ``Done``."""
    current: int
    """Bytes done so far."""
    total: int
    """Bytes in all; 0 when unknown."""


ProgressFn = Callable[[TransferProgress], None]


def report(progress: ProgressFn | None, digest: str, action: str, current: int = 0, total: int = 0) -> None:
    """Send one progress item, if anyone listens."""
    if progress is not None:
        progress(TransferProgress(digest.removeprefix("sha256:")[:12], action, current, total))
