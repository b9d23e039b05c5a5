"""A size-bounded event journal, so every berth process sees every change.

The journal is ``events.jsonl`` plus up to ``KEEP`` older files (``events.jsonl.1``,
``.2``). Offsets are logical: positions in the one stream the files make, oldest
first. A file made by a rotation starts with a header line ``{"base":N}``, the
logical offset of its byte 0 (a file without one starts at 0). So an offset is a
plain int that any process can keep and pass back, and it stays valid across
rotations: no reader needs to hold a file open or take a lock.

A writer opens the path with O_APPEND for each event and takes a shared flock on
the file; if the path no longer names that file (it was rotated between the open
and the lock) it opens again. A line shorter than PIPE_BUF lands whole, so writers
never interleave. The writer whose line takes the file past ``MAX_BYTES`` rotates
it under an exclusive flock, which waits for every writer on it, so a rotated file
is final: older files move up a number, the current one is hard-linked as ``.1``
and a new file with its header is renamed over the path, which therefore always
exists. A reader whose offset is in a rotated file reads the rest of it, then goes
on in the next one, and never sees an event twice or misses one still kept; one
further behind than the kept files goes on from the oldest kept event.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .errors import FULL_ERRNOS

__all__ = ["KEEP", "MAX_BYTES", "ORDER_SLACK", "Event", "EventJournal"]

MAX_BYTES = 8 << 20
"""Rotate once an append takes the current file past this: ~70,000 events, history enough for ``events
--since``, little to keep. A file ends past it by at most a line per writer appending during the rotation, so
the whole journal stays near (KEEP + 1) × 8 MiB."""
KEEP = 2
"""Rotated files kept (``events.jsonl.1``, ``.2``); the next rotation drops the oldest."""
ORDER_SLACK = 2.0
"""Seconds an event may be stamped before one appended ahead of it. Writers stamp under the lock, right
before the write, so concurrent writers disorder times by microseconds; a seek by time starts this much
earlier and the caller filters. A clock stepped back by more than this can hide older events from a seek."""
_MAX_LINE = 4096  # PIPE_BUF on Linux: appends up to this size are atomic
_READ_CHUNK = 1 << 20  # bytes one read() returns at most: memory stays bounded on any journal
_PROBE = 512  # a seek's first read at a probe point: a few lines
_WINDOW = 2048  # a seek scans the last span this small line by line
_HEADER_MAX = 64  # '{"base":N}\n' with N up to 20 digits fits


@dataclass(frozen=True)
class Event:
    """One change: ``type`` is image, container or layer; ``action`` Docker's verb (tag, delete, start…)."""

    time: float
    type: str
    action: str
    id: str
    name: str = ""


@dataclass
class _File:
    """One open file of the journal."""

    fd: int
    base: int  # logical offset of byte 0
    start: int  # first byte after the header
    key: tuple[int, int]  # (st_dev, st_ino): the same file under two names is read once

    def size(self) -> int:
        return os.fstat(self.fd).st_size


def _header(head: bytes) -> tuple[int, int]:
    """(base, bytes the header takes) from a file's first bytes; (0, 0) for a file without one."""
    if head.startswith(b'{"base":'):
        end = head.find(b"\n")
        if end > 0:
            try:
                return int(json.loads(head[:end])["base"]), end + 1
            except (ValueError, KeyError, TypeError):
                pass
    return 0, 0


def _parse(raw: bytes) -> Event | None:
    try:
        item = json.loads(raw)
        return Event(float(item["time"]), item["type"], item["action"], item["id"], item.get("name", ""))
    except (ValueError, KeyError, TypeError):
        return None  # a damaged line (or the header) must not stop the readers


def _stamps(fd: int, pos: int, limit: int, *, aligned: bool) -> Iterator[tuple[int, int, float]]:
    """(start, end, time) of each event line starting in [pos, limit); ``aligned``: a line starts at ``pos``.

    Reads grow from ``_PROBE`` bytes, so a probe that needs one line reads a few hundred bytes. A stretch
    with no line end in ``_MAX_LINE`` bytes (damage) is stepped over, never held whole.
    """
    at = pos if aligned else pos - 1  # not aligned: the byte before tells whether a line starts at pos
    buf = b""  # the bytes from ``at`` on; aligned: ``at`` is a line start, else the next line follows a \n
    want = _PROBE
    while at < limit:
        chunk = os.pread(fd, want, at + len(buf))
        if not chunk:
            return
        buf += chunk
        want = min(want * 2, 1 << 16)
        if not aligned:
            cut = buf.find(b"\n")
            if cut < 0:
                at, buf = at + len(buf), b""
                continue
            at, buf, aligned = at + cut + 1, buf[cut + 1:], True
        i = 0
        while at < limit and (cut := buf.find(b"\n", i)) >= 0:
            event = _parse(buf[i:cut])
            if event is not None:
                yield at, at + cut - i + 1, event.time
            at, i = at + cut - i + 1, cut + 1
        buf = buf[i:]
        if len(buf) > _MAX_LINE:  # longer than any line a writer makes: go on after the next line end
            at, buf, aligned = at + len(buf), b"", False


def _first_at_or_after(fd: int, lo: int, hi: int, target: float) -> int:
    """Start of the first event line in [lo, hi) stamped at or after ``target``, else ``hi`` (lo is a line start).

    Bisection on byte positions: a probe reads the first whole line after its midpoint.
    """
    best = hi
    while hi - lo > _WINDOW:
        mid = (lo + hi) // 2
        probe = next(_stamps(fd, mid, hi, aligned=False), None)
        if probe is None:
            hi = mid  # no event starts in [mid, hi): the answer is before mid, or best
        elif probe[2] < target:
            lo = probe[1]
        else:
            hi = best = probe[0]
    for start, _end, stamp in _stamps(fd, lo, hi, aligned=True):
        if stamp >= target:
            return start
    return best


class EventJournal:
    """The journal of one store root."""

    def __init__(self, path: str, *, max_bytes: int = MAX_BYTES, keep: int = KEEP,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.max_bytes = max_bytes
        """Rotate past this size (tests make it small)."""
        self.keep = max(1, keep)
        self.clock = clock
        """Where an event's time comes from."""

    # -- writing -------------------------------------------------------------

    def append(self, type: str, action: str, id: str, name: str = "") -> None:
        """Record a change that has already happened."""
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            if self._append(type, action, id, name) > self.max_bytes:
                self._rotate()
        except OSError as err:
            # The change is done and durable; on a full disk its event is dropped (as Docker's logger drops
            # lines) rather than failing a command that may be freeing the space (rm -f).
            if err.errno not in FULL_ERRNOS:
                raise

    def _line(self, type: str, action: str, id: str, name: str) -> bytes:
        stamp = self.clock()
        line = json.dumps({"time": stamp, "type": type, "action": action, "id": id, "name": name},
                          separators=(",", ":")).encode() + b"\n"
        if len(line) > _MAX_LINE:
            line = json.dumps({"time": stamp, "type": type, "action": action, "id": id},
                              separators=(",", ":")).encode() + b"\n"
        return line

    def _append(self, type: str, action: str, id: str, name: str) -> int:
        """Append one line to the current file; the file's size after it."""
        while True:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_SH)  # a rotation waits for this append to end
                if not self._is_current(fd):
                    continue  # rotated between our open and our lock: that file is final now
                os.write(fd, self._line(type, action, id, name))  # stamped under the lock: times follow order
                return os.lseek(fd, 0, os.SEEK_CUR)
            finally:
                os.close(fd)

    def _is_current(self, fd: int) -> bool:
        held = os.fstat(fd)
        try:
            now = os.stat(self.path)
        except FileNotFoundError:
            return False
        return (held.st_dev, held.st_ino) == (now.st_dev, now.st_ino)

    def _rotate(self) -> None:
        """Start a new current file; the old one becomes ``.1`` (many writers may try: one does it)."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # every append to this file has ended, and none will start
            size = os.fstat(fd).st_size
            if not self._is_current(fd) or size <= self.max_bytes:
                return  # another writer rotated it first
            base = _header(os.pread(fd, _HEADER_MAX, 0))[0] + size
            fresh = f"{self.path}.new"  # one rotator at a time holds this file's lock: the name is ours
            try:
                out = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
                try:
                    os.write(out, json.dumps({"base": base}, separators=(",", ":")).encode() + b"\n")
                finally:
                    os.close(out)
                first = f"{self.path}.1"
                if not self._same(first, fd):  # else a rotation stopped after the link: finish it
                    for n in range(self.keep, 1, -1):
                        try:
                            os.rename(f"{self.path}.{n - 1}", f"{self.path}.{n}")  # replaces (drops) the oldest
                        except FileNotFoundError:
                            pass
                    os.link(self.path, first)
                os.rename(fresh, self.path)
            except OSError:
                try:
                    os.unlink(fresh)
                except FileNotFoundError:
                    pass
                raise
        finally:
            os.close(fd)

    @staticmethod
    def _same(path: str, fd: int) -> bool:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return False
        held = os.fstat(fd)
        return (st.st_dev, st.st_ino) == (held.st_dev, held.st_ino)

    # -- reading -------------------------------------------------------------

    def _open(self, name: str) -> _File | None:
        try:
            fd = os.open(name, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        try:
            st = os.fstat(fd)
            base, start = _header(os.pread(fd, _HEADER_MAX, 0))
        except OSError:
            os.close(fd)
            raise
        return _File(fd, base, start, (st.st_dev, st.st_ino))

    def _files(self, offset: int | None = None) -> list[_File]:
        """The journal's files open, oldest first; with ``offset``, only back to the one holding it.

        Names are tried newest first and a missing one is skipped, not taken for the end: a rotation
        in progress moves ``.1`` to ``.2`` before it links the current file as ``.1``.
        """
        found: list[_File] = []
        names = [self.path] + [f"{self.path}.{n}" for n in range(1, self.keep + 1)]
        try:
            for name in names:
                file = self._open(name)
                if file is None:
                    continue
                if any(f.key == file.key for f in found):
                    os.close(file.fd)
                    continue
                found.append(file)
                if offset is not None and file.base <= offset:
                    break
        except BaseException:
            for f in found:
                os.close(f.fd)
            raise
        found.sort(key=lambda f: f.base)
        return found

    def end(self) -> int:
        """The offset a new reader starts from to see only what happens next."""
        file = self._open(self.path)
        if file is None:
            return 0
        try:
            return file.base + max(file.size(), file.start)
        finally:
            os.close(file.fd)

    def offset_at(self, when: float) -> int:
        """An offset to read from to see every event stamped at or after ``when`` (and a few before it).

        Bisects each file on the time field (events are appended in time order up to
        ``ORDER_SLACK``), so on any journal it reads a few KB: the newest file whose first
        event is old enough holds the answer; if none is, the whole kept journal is.
        """
        target = when - ORDER_SLACK
        files = self._files()
        try:
            for file in reversed(files):
                size = file.size()
                first = next(_stamps(file.fd, file.start, size, aligned=True), None)
                if first is None or first[2] >= target:
                    continue  # empty, or all of it is new enough: the answer is in an older file
                return file.base + _first_at_or_after(file.fd, first[1], size, target)
            return files[0].base if files else 0
        finally:
            for f in files:
                os.close(f.fd)

    def read(self, offset: int) -> tuple[list[Event], int]:
        """Whole events after ``offset`` (at most about 1 MB of them), and the offset to read from next.

        An offset older than the oldest kept file reads from that file's start (those
        events were rotated away); one past the end (the journal was removed and made
        again) reads the current file from its start.
        """
        files = self._files(offset)
        try:
            if not files:
                return [], offset
            index = max((i for i, f in enumerate(files) if f.base <= offset), default=0)
            pos = max(0, offset - files[index].base)
            if index == len(files) - 1 and pos > files[index].size():
                pos = 0
            events: list[Event] = []
            budget = _READ_CHUNK
            while True:
                file = files[index]
                pos = max(pos, file.start)
                data = os.pread(file.fd, budget, pos)
                full = len(data) == budget  # the file may go on past what was read
                cut = data.rfind(b"\n") + 1
                if cut == 0 and full:
                    cut = len(data)  # a chunk with no line end is no event: step over it
                for raw in data[:cut].splitlines():
                    event = _parse(raw)
                    if event is not None:
                        events.append(event)
                pos += cut
                budget -= cut
                if full or index == len(files) - 1:
                    return events, file.base + pos
                # A rotated file is final: a torn last line there (a crash mid-write) is skipped.
                index, pos = index + 1, 0
        finally:
            for f in files:
                os.close(f.fd)

    def follow(self, offset: int, cancel: threading.Event, interval: float = 0.1) -> Iterator[Event]:
        """Events after ``offset`` as they come, until ``cancel`` is set; what is already there comes first."""
        while True:
            events, after = self.read(offset)
            yield from events
            caught_up = after == offset
            offset = after
            if caught_up:
                if cancel.is_set():
                    return
                cancel.wait(interval)
