"""Progress of a save, load, pull or push, as data the front ends render.

The callback gets one ``TransferProgress`` per change of one blob: its short
ID, Docker's status word for it, and bytes done of bytes in all. A pull sends,
per layer, Docker's sequence: ``Pulling fs layer``, ``Waiting`` (queued behind
the parallel downloads), ``Downloading`` x/y (many), ``Verifying Checksum``,
``Download complete``, ``Extracting`` x/y (many), ``Pull complete``; a layer
the store has already gets just ``Already exists``. Callbacks come from
several threads; ``final`` tells when a blob is finished.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["FINAL_ACTIONS", "PROGRESS_ACTIONS", "ProgressFn", "TransferProgress", "report"]

FINAL_ACTIONS = frozenset({"Pull complete", "Already exists", "Pushed", "Layer already exists", "Done"})
"""Statuses after which a blob gets no more items (``Mounted from <repo>`` is final too)."""
PROGRESS_ACTIONS = frozenset({"Downloading", "Extracting", "Pushing", "Writing"})
"""Statuses sent many times with growing ``current``; Docker prints them only as bars on a terminal."""


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

    @property
    def final(self) -> bool:
        """True when this blob is finished (pulled, pushed, skipped, mounted, written)."""
        return self.action in FINAL_ACTIONS or self.action.startswith("Mounted from")


ProgressFn = Callable[[TransferProgress], None]


def report(progress: ProgressFn | None, digest: str, action: str, current: int = 0, total: int = 0) -> None:
    """Send one progress item, if anyone listens."""
    if progress is not None:
        progress(TransferProgress(digest.removeprefix("sha256:")[:12], action, current, total))
