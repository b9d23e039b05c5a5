"""Where to start reading a json-file log: N lines from its end, or the first line at or after a time.

``logs --tail 10`` of a 1 GB log must not read the gigabyte: lines are counted
backwards in blocks from the end. ``--since`` needs no index either: the writer
stamps lines in time order, so a binary search on byte offsets finds the first
line at or after a time in ~30 probes of one line each. Rotated files
(``log.N`` … ``log.1``, then the live ``log``) are one sequence, oldest first;
a position is (file index, byte offset). Every read is bounded, whatever the
log's size.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from ..rfc3339 import parse_time

__all__ = ["Position", "complete_end", "line_time", "since_start", "tail_start"]

Position = tuple[int, int]
"""(index into the files, oldest first; byte offset of a line start in that file)."""

_BLOCK = 1 << 16
_PROBE = 1 << 12
"""A binary search's first read at a probe: one line, mostly; doubled up to ``_BLOCK`` for a long one."""
_TIME_KEY = b'"time":"'


def _pread(fd: int, size: int, offset: int) -> bytes:
    return os.pread(fd, size, offset) if size > 0 else b""


def complete_end(fd: int, size: int) -> int:
    """The offset just past the last newline before ``size``: a line still being written is not a line yet."""
    pos = size
    while pos > 0:
        start = max(0, pos - _BLOCK)
        block = _pread(fd, pos - start, start)
        at = block.rfind(b"\n")
        if at >= 0:
            return start + at + 1
        pos = start
    return 0


def _tail_in(fd: int, end: int, count: int) -> tuple[int, int]:
    """(offset of the first of the last ``count`` lines before ``end``, how many lines were found there)."""
    if count <= 0:
        return end, 0
    found, pos = 0, end - 1  # the byte at end - 1 is the newline of the last line: not counted
    while pos > 0:
        start = max(0, pos - _BLOCK)
        block = _pread(fd, pos - start, start)
        at = len(block)
        while True:
            at = block.rfind(b"\n", 0, at)
            if at < 0:
                break
            found += 1
            if found == count:
                return start + at + 1, found
        pos = start
    return 0, found + (1 if end > 0 else 0)


def tail_start(fds: Sequence[int], ends: Sequence[int], count: int) -> Position:
    """Where the last ``count`` complete lines of the files begin (``count`` < 0: everything)."""
    if count < 0 or not fds:
        return 0, 0
    last = len(fds) - 1
    if count == 0:
        return last, ends[last]
    for index in range(last, -1, -1):
        offset, found = _tail_in(fds[index], ends[index], count)
        if found >= count or index == 0:
            return index, offset
        count -= found
    return 0, 0  # unreachable: index 0 returns


def line_time(line: bytes) -> float | None:
    """The ``time`` of one json-file line, found without decoding the line (None: not a log line)."""
    at = line.rfind(_TIME_KEY)
    if at < 0:
        return None
    end = line.find(b'"', at + len(_TIME_KEY))
    if end < 0:
        return None
    try:
        stamp = parse_time(line[at + len(_TIME_KEY):end].decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return None
    return stamp or None


def _line_at(fd: int, pos: int, end: int) -> tuple[int, float | None]:
    """(end offset, time) of the line starting at ``pos`` (before ``end``); a long line is read in blocks."""
    chunks: list[bytes] = []
    at, size = pos, min(_PROBE, _BLOCK)
    while at < end:
        block = _pread(fd, min(size, end - at), at)
        if not block:
            break
        newline = block.find(b"\n")
        if newline >= 0:
            chunks.append(block[:newline + 1])
            line = b"".join(chunks)
            return pos + len(line), line_time(line)
        chunks.append(block)
        at, size = at + len(block), min(size * 2, _BLOCK)
    return end, None


def _next_start(fd: int, pos: int, start: int, end: int) -> int:
    """The first line start at or after ``pos`` (``start`` is one; ``end`` if none is before it)."""
    if pos <= start:
        return start
    at, size = pos - 1, min(_PROBE, _BLOCK)
    while at < end:
        block = _pread(fd, min(size, end - at), at)
        if not block:
            break
        newline = block.find(b"\n")
        if newline >= 0:
            return at + newline + 1
        at, size = at + len(block), min(size * 2, _BLOCK)
    return end


def _first_at_or_after(fd: int, start: int, end: int, when: float) -> int:
    """The first line start in [start, end) whose time is ≥ ``when`` (``end`` if none): lines are in time order.

    A line with no readable time (a foreign writer's) takes the time of the next line that has one.
    """
    def reaches(pos: int) -> tuple[bool, int]:
        line = _next_start(fd, pos, start, end)
        probe = line
        while probe < end:
            probe, stamp = _line_at(fd, probe, end)
            if stamp is not None:
                return stamp >= when, line
        return True, line

    lo, hi = start, end
    while lo < hi:  # the smallest offset whose next line is ≥ when: that line is the answer
        mid = (lo + hi) // 2
        if reaches(mid)[0]:
            hi = mid
        else:
            lo = mid + 1
    return reaches(lo)[1] if lo < end else end


def since_start(fds: Sequence[int], ends: Sequence[int], when: float) -> Position:
    """Where the first complete line at or after ``when`` is, across the files oldest first."""
    last = len(fds) - 1
    for index in range(len(fds)):
        end = ends[index]
        if index < last and end > 0:
            tail, _found = _tail_in(fds[index], end, 1)
            stamp = _line_at(fds[index], tail, end)[1]
            if stamp is not None and stamp < when:
                continue  # this whole file is older
        offset = _first_at_or_after(fds[index], 0, end, when)
        if offset < end or index == last:
            return index, offset
    return max(last, 0), ends[last] if fds else 0
