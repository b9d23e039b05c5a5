"""What every ``prune`` verb says: Docker's warning and y/N question, and the ``Deleted …:`` lists."""

from __future__ import annotations

import sys
from collections.abc import Iterable

__all__ = ["confirm", "print_deleted"]


def confirm(warning: str) -> bool:
    """Docker's prompt before a destructive verb; anything but y/yes (or end of input) says no."""
    print(f"{warning}\nAre you sure you want to continue? [y/N] ", end="", flush=True)
    answer = sys.stdin.readline().strip().lower()
    return answer in ("y", "yes")


def print_deleted(kind: str, names: Iterable[str], blank_after: bool = True) -> None:
    """``Deleted Containers:`` and one name a line, as Docker prints it (nothing when nothing went)."""
    names = list(names)
    if names:
        print(f"Deleted {kind}:\n" + "\n".join(names) + ("\n" if blank_after else ""))
