"""``diff``: what a container changed, read from its overlay upper dir (no mount needed)."""

from __future__ import annotations

import os
import stat
from typing import TYPE_CHECKING

from .models import Change

if TYPE_CHECKING:
    from ..context import StoreContext

__all__ = ["changes"]


def _is_whiteout(st: os.stat_result) -> bool:
    """overlayfs marks a deleted file with a 0/0 character device in the upper dir."""
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _in_lowers(lowers: list[str], rel: str) -> bool:
    return any(os.path.lexists(os.path.join(lower, rel)) for lower in lowers)


def changes(store: StoreContext, mount_id: str) -> list[Change]:
    """A/C/D per path, sorted as Docker prints them; a changed dir's parents show as C."""
    upper = store.paths.diff_dir(mount_id)
    lowers = [os.path.join(store.paths.overlay, lower) for lower in store.rwlayers.lowers(mount_id)]
    out = []
    stack = [""]  # a loop, not os.walk: in 3.11 that recurses per level, and the container chooses the depth
    while stack:
        directory = stack.pop()
        try:
            names = os.listdir(os.path.join(upper, directory) if directory else upper)
        except (FileNotFoundError, NotADirectoryError):
            continue
        for name in names:
            rel = f"{directory}/{name}" if directory else name
            st = os.lstat(os.path.join(upper, rel))
            if _is_whiteout(st):
                out.append(Change("D", "/" + rel))
                continue
            out.append(Change("C" if _in_lowers(lowers, rel) else "A", "/" + rel))
            if stat.S_ISDIR(st.st_mode):
                stack.append(rel)
    return sorted(out, key=lambda c: c.path)
