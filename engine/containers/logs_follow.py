"""``logs [-f]``: read a container's json-file log, and follow it while the container runs."""

from __future__ import annotations

import os
import select
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TypeVar

from ..errors import BerthError
from .logs import LogEntry, follow_fd, read_chunks, read_entries, rotated_paths

if TYPE_CHECKING:
    from ..context import StoreContext

__all__ = ["log_chunks", "log_entries"]

_Item = TypeVar("_Item")

# After init exits, how long to wait for the monitor to drain the pipes and record the exit.
_DRAIN_SECONDS = 5.0


class _ContainerEnd:
    """Says when a followed container has stopped and its monitor has written the last line."""

    def __init__(self, store: StoreContext, cid: str) -> None:
        from .lifecycle import current

        self.store, self.cid = store, cid
        state = current(store, cid)["State"]
        self.pidfd = -1
        if state["Running"]:
            try:
                self.pidfd = os.pidfd_open(int(state["Pid"]))
            except ProcessLookupError:
                pass

    def _recorded_stopped(self) -> bool:
        from .lifecycle import current

        try:
            return not current(self.store, self.cid)["State"]["Running"]
        except BerthError:
            return True  # removed (--rm): nothing more will be written

    def __call__(self, timeout: float) -> bool:
        if self.pidfd < 0:
            return True
        if not select.select([self.pidfd], [], [], timeout)[0]:
            return False
        deadline = time.monotonic() + _DRAIN_SECONDS
        while not self._recorded_stopped() and time.monotonic() < deadline:
            time.sleep(0.01)
        os.close(self.pidfd)
        self.pidfd = -1
        return True


def log_entries(store: StoreContext, cid: str, *, follow: bool, tail: int, since: float,
                until: float) -> Iterator[LogEntry]:
    """Entries in order; the log file stays open, so a rotation or ``--rm`` mid-read loses nothing."""
    return _follow(store, cid, follow, tail, since, until, read_entries)


def log_chunks(store: StoreContext, cid: str, *, follow: bool, tail: int, since: float, until: float,
               timestamps: bool = False) -> Iterator[tuple[str, bytes]]:
    """(stream, bytes) to print, in order: ``logs`` of 200k lines without making 200k objects."""
    def decode(data: bytes, since: float, until: float) -> Iterator[tuple[str, bytes]]:
        return read_chunks(data, since, until, timestamps)

    return _follow(store, cid, follow, tail, since, until, decode)


def _follow(store: StoreContext, cid: str, follow: bool, tail: int, since: float, until: float,
            decode: Callable[[bytes, float, float], Iterator[_Item]]) -> Iterator[_Item]:
    path = store.paths.container_log(cid)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    older: list[int] = []
    try:
        for rotated in rotated_paths(path):
            try:
                older.append(os.open(rotated, os.O_RDONLY | os.O_CLOEXEC))
            except FileNotFoundError:  # rotated away meanwhile
                continue
        ended = _ContainerEnd(store, cid) if follow else (lambda _timeout: True)
        yield from follow_fd(fd, ended, since, until, tail, path=path, decode=decode, older=older)
    finally:
        for rotated_fd in older:
            os.close(rotated_fd)
        os.close(fd)
