"""Docker's json-file log: one ``{"log","stream","time"}`` object per line, written by the monitor.

The writer splits a stream at newlines (a line longer than 16 KiB is cut, as
Docker does); the reader filters by time and tails without parsing lines it
will not show.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from typing import NamedTuple, TypeVar

from ..rfc3339 import format_time, parse_time

__all__ = ["LogEntry", "LogWriter", "follow_fd", "parse_entry", "read_chunks", "read_entries", "rotated_paths",
           "tail_lines"]

# Docker's bufio reader size for container output: longer lines become several entries.
MAX_LINE = 16 * 1024
_READ_CHUNK = 1 << 20


class LogEntry(NamedTuple):
    """One line of a container's output (a tuple: 200k of them must be cheap to make)."""

    stream: str
    log: str
    time: str


class LogWriter:
    """Appends one container's stdout and stderr to its json-file log.

    A write that fails (ENOSPC on a full disk, EIO) drops its lines, as Docker's json-file
    logger does: they are counted, the monitor's log says so once, and the first write that
    works again is preceded by one entry saying how many were lost. The container never
    notices, and the monitor never stops for it.
    """

    def __init__(self, path: str, raw: bool = False, max_size: int = 0, max_file: int = 1) -> None:
        self.path = path
        self.fd = -1
        self.raw = raw
        """A terminal's output: every read is one entry (a prompt has no newline to wait for)."""
        self.max_size, self.max_file = max_size, max(1, max_file)
        """``--log-opt max-size`` (0: never rotate) and ``max-file`` (files kept, the current one included)."""
        self.size = 0
        self.dropped = 0
        """Entries lost to failed writes since the last one that worked."""
        self.dropped_total = 0
        self._partial: dict[str, bytes] = {"stdout": b"", "stderr": b""}
        self._reopen()

    def _open(self) -> int:
        return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)

    def _reopen(self) -> bool:
        """(Re)open the log; False while that fails (a full disk may refuse even a new inode)."""
        if self.fd < 0:
            try:
                self.fd = self._open()
                self.size = os.fstat(self.fd).st_size
            except OSError:
                self.fd = -1
        return self.fd >= 0

    def _rotate(self) -> None:
        """``log`` → ``log.1`` → … → ``log.<max-file - 1>``; with max-file 1 the log restarts empty."""
        os.close(self.fd)
        self.fd = -1
        try:
            if self.max_file == 1:
                os.unlink(self.path)
            for index in range(self.max_file - 1, 0, -1):
                source = self.path if index == 1 else f"{self.path}.{index - 1}"
                if os.path.exists(source):
                    os.replace(source, f"{self.path}.{index}")
        except OSError:
            pass  # rotation is best effort; the next write reopens whatever is there
        self._reopen()

    def feed(self, stream: str, data: bytes, now: float) -> None:
        """Log every complete line of ``data`` (plus what was left over from before)."""
        if self.raw:
            self._write(stream, [data], now)
            return
        buf = self._partial[stream] + data
        lines = buf.split(b"\n")
        rest = lines.pop()
        entries = [line + b"\n" for line in lines]
        while len(rest) > MAX_LINE:  # cut pieces carry no newline, as Docker's partial messages
            entries.append(rest[:MAX_LINE])
            rest = rest[MAX_LINE:]
        self._partial[stream] = rest
        self._write(stream, entries, now)

    def flush(self, now: float) -> None:
        """Log what is left of unterminated lines (at end of stream)."""
        for stream, rest in self._partial.items():
            if rest:
                self._write(stream, [rest], now)
            self._partial[stream] = b""

    def _write(self, stream: str, lines: list[bytes], now: float) -> None:
        if not lines:
            return
        stamp = format_time(now)
        batch: list[bytes] = []
        batch_size = 0
        for line in lines:
            text = json.dumps(line.decode("utf-8", "replace"))
            entry = f'{{"log":{text},"stream":"{stream}","time":"{stamp}"}}\n'.encode()
            batch.append(entry)
            batch_size += len(entry)
            if self.max_size and self.size + batch_size >= self.max_size:
                self._append(b"".join(batch), len(batch), now)
                if self.fd >= 0:
                    self._rotate()
                batch, batch_size = [], 0
        if batch:
            self._append(b"".join(batch), len(batch), now)

    def _append(self, data: bytes, count: int, now: float) -> None:
        """Write ``count`` entries, or drop (and count) them all: half an entry is never left in the log."""
        if self.dropped and not self._write_all(self._dropped_note(now)):
            self.dropped += count
            self.dropped_total += count
            return
        self.dropped = 0
        if not self._write_all(data):
            if not self.dropped_total:
                import sys

                print(f"monitor: dropping log lines of {os.path.basename(self.path)} (cannot write them)",
                      file=sys.stderr)
            self.dropped += count
            self.dropped_total += count

    def _dropped_note(self, now: float) -> bytes:
        text = f"berth: {self.dropped} log line(s) dropped: could not write them (disk full?)\n"
        return f'{{"log":{json.dumps(text)},"stream":"stderr","time":"{format_time(now)}"}}\n'.encode()

    def _write_all(self, data: bytes) -> bool:
        if not self._reopen():
            return False
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self.fd, view):]
        except OSError:
            written = len(data) - len(view)
            if written:
                try:
                    os.ftruncate(self.fd, os.fstat(self.fd).st_size - written)  # take back a partial entry
                except OSError:
                    pass
            return False
        self.size += len(data)
        return True

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def parse_entry(line: bytes) -> LogEntry | None:
    try:
        obj = json.loads(line)
        return LogEntry(obj["stream"], obj["log"], obj["time"])
    except (ValueError, KeyError, TypeError):
        return None


def tail_lines(data: bytes, count: int) -> bytes:
    """The last ``count`` lines of ``data``, found from the end without splitting the rest."""
    if count < 0:
        return data
    end = len(data)
    pos = end - 1 if data.endswith(b"\n") else end
    for _ in range(count):
        pos = data.rfind(b"\n", 0, pos)
        if pos < 0:
            return data
    return data[pos + 1:] if count else b""


def _parse_all(lines: list[bytes]) -> list[LogEntry]:
    """Decode many lines with one json call (10x faster than one call per line); slow path on a bad line."""
    try:
        objs = json.loads(b"[" + b",".join(lines) + b"]")
        return [LogEntry(o["stream"], o["log"], o["time"]) for o in objs]
    except (ValueError, KeyError, TypeError):
        return [e for e in map(parse_entry, lines) if e is not None]


def read_entries(data: bytes, since: float = 0.0, until: float = 0.0) -> Iterator[LogEntry]:
    """The entries of complete lines in ``data``, within [since, until) when given."""
    entries = _parse_all([line for line in data.split(b"\n") if line])
    if not (since or until):
        yield from entries
        return
    for entry in entries:
        stamp = parse_time(entry.time)
        if not ((since and stamp < since) or (until and stamp >= until)):
            yield entry


# -- the fast exact reader: runs of lines that share one stream and stamp ------------------------------------------

_PREFIX = b'{"log":"'
_STREAM_KEY = b'","stream":"'
_SUFFIX_HEADS = {b'\\n","stream":"stdout","time":"': "stdout", b'\\n","stream":"stderr","time":"': "stderr"}
_SUFFIX_END = b'"}\n'
_HEAD_LEN = len(next(iter(_SUFFIX_HEADS)))
# Bytes a JSON string may not hold raw (besides the newline between lines, checked by count).
_CONTROL = bytes(range(0x0A)) + bytes(range(0x0B, 0x20))
_GALLOP = 4096


def read_chunks(data: bytes, since: float = 0.0, until: float = 0.0,
                timestamps: bool = False) -> Iterator[tuple[str, bytes]]:
    """(stream, bytes to print) for the complete lines in ``data``: what printing ``read_entries`` gives, faster.

    The writer stamps every line of one read with one time, so the log is runs of
    lines whose tails (``\\n","stream":…,"time":…}``) are byte-equal. A run whose
    text needs no unescaping is turned into output with one ``bytes.replace``; any
    other line (escapes, a cut line, a foreign writer) goes through ``json.loads``.
    """
    pos = 0
    while pos < len(data):
        end, suffix = _run(data, pos)
        chunk = _plain_run(data[pos:end], suffix) if suffix is not None else None
        if chunk is None or suffix is None:
            yield from _parsed_chunks(data[pos:end], since, until, timestamps)
        else:
            stamp = suffix[_HEAD_LEN:-len(_SUFFIX_END)]
            if _in_window(stamp.decode(), since, until):
                if timestamps:
                    head = stamp + b" "
                    chunk = head + chunk[:-1].replace(b"\n", b"\n" + head) + b"\n"
                yield _SUFFIX_HEADS[suffix[:_HEAD_LEN]], chunk
        pos = end


def _run(data: bytes, pos: int) -> tuple[int, bytes | None]:
    """Where the run of lines starting at ``pos`` ends, and the tail they share (None: a line to parse alone)."""
    newline = data.find(b"\n", pos)
    if newline < 0:  # an unterminated last line: the slow path decides what it is
        return len(data), None
    at = data.rfind(_STREAM_KEY, pos, newline)
    suffix = data[at - 2:newline + 1] if at >= pos + len(_PREFIX) else b""
    if (suffix[:_HEAD_LEN] not in _SUFFIX_HEADS or not suffix.endswith(_SUFFIX_END) or not suffix.isascii()
            or suffix.count(b'"') != 9 or suffix.count(b"\\") != 1 or not data.startswith(_PREFIX, pos)
            or len(suffix.translate(None, _CONTROL)) != len(suffix)):
        return newline + 1, None
    end, step = newline + 1, _GALLOP
    while end < len(data):  # gallop: stamps only grow, so the run's lines are contiguous (checked later)
        probe = data.find(b"\n", min(len(data), end + step) - 1)
        if probe >= 0 and data.startswith(suffix, probe + 1 - len(suffix)):
            end, step = probe + 1, step * 2
        elif step == 1:
            break
        else:
            step //= 2
    return end, suffix


def _plain_run(segment: bytes, suffix: bytes) -> bytes | None:
    """The text of a run of lines that all end in ``suffix``, when no line needs unescaping (else None)."""
    lines = segment.count(b"\n")
    inner = segment[len(_PREFIX):-len(suffix)]
    text = inner.replace(suffix + _PREFIX, b"\n")
    joints = (len(inner) - len(text)) // (len(suffix) + len(_PREFIX) - 1)
    if (joints != lines - 1 or b'"' in text or b"\\" in text
            or len(text.translate(None, _CONTROL)) != len(text)):
        return None
    if not text.isascii():
        try:
            text.decode("utf-8")
        except UnicodeDecodeError:
            return None
    return text + b"\n"


def _in_window(stamp: str, since: float, until: float) -> bool:
    if not (since or until):
        return True
    at = parse_time(stamp)
    return not ((since and at < since) or (until and at >= until))


def _parsed_chunks(data: bytes, since: float, until: float, timestamps: bool) -> Iterator[tuple[str, bytes]]:
    """The slow path: every line through ``json.loads``, then runs of one stream joined."""
    run: list[str] = []
    stream = "stdout"
    for entry in read_entries(data, since, until):
        if entry.stream != stream and run:
            yield stream, "".join(run).encode("utf-8", "replace")
            run = []
        stream = entry.stream
        run.append(f"{entry.time} {entry.log}" if timestamps else entry.log)
    if run:
        yield stream, "".join(run).encode("utf-8", "replace")


_Item = TypeVar("_Item")

# How long a follower sleeps when the log has no new bytes (it wakes at once when the container ends).
FOLLOW_POLL_SECONDS = 0.02


def follow_fd(fd: int, ended: Callable[[float], bool], since: float = 0.0, until: float = 0.0,
              start_tail: int = -1, path: str | None = None,
              decode: Callable[[bytes, float, float], Iterator[_Item]] = read_entries,  # type: ignore[assignment]
              older: Sequence[int] = ()) -> Iterator[_Item]:
    """Entries from an open log file: what it holds (last ``start_tail`` lines), then new ones until ``ended``.

    ``ended(timeout)`` waits up to ``timeout`` seconds and says whether the writer
    is done; after it says so, the file is read once more to its end. With
    ``path``, a rotation (the path now names another file) is followed: the old
    file is read to its end, then the new one from its start. ``older`` are open
    rotated files (oldest first) whose lines come before the file's own. ``decode``
    turns complete lines into what is yielded (``read_entries``: entries; a
    ``read_chunks`` partial: bytes to print).

    The start is found from the end (``--tail``) or by a binary search on the
    lines' times (``--since``), and the files are read in blocks of at most
    ``_READ_CHUNK``: memory is bounded whatever the log's size. Reading ends
    at the first line at or after ``until`` (lines are in time order), or
    when the clock passes it.
    """
    tail = _Tail(fd, path)
    try:
        index, offset = _start(fd, older, since, start_tail)
        carry, past = b"", False
        for file_index in range(index, len(older)):
            read = _reader(older[file_index], offset if file_index == index else 0)
            carry, past = yield from _drain(read, carry, decode, since, until)
            if past:
                return
        carry, past = yield from _drain(tail.read, carry, decode, since, until)
        finished = past
        while not finished:  # as Docker's follower, stop once the clock passes ``until``
            finished = ended(FOLLOW_POLL_SECONDS) or bool(until and time.time() >= until)
            carry, past = yield from _drain(tail.read, carry, decode, since, until)
            finished = finished or past
    finally:
        tail.close()


def _start(fd: int, older: Sequence[int], since: float, count: int) -> tuple[int, int]:
    """(file index, offset) to read from; the live file's offset is set on ``fd`` (else ``fd`` stays where it is)."""
    from .log_seek import complete_end, since_start, tail_start

    if count < 0 and not since:
        return 0, 0
    fds = [*older, fd]
    ends = [os.fstat(f).st_size for f in older] + [complete_end(fd, os.fstat(fd).st_size)]
    start = tail_start(fds, ends, count) if count >= 0 else (0, 0)
    if since:
        start = max(start, since_start(fds, ends, since))
    if start[0] == len(older):
        os.lseek(fd, start[1], os.SEEK_SET)
    return start


def _reader(fd: int, offset: int) -> Callable[[], bytes]:
    """Bounded reads of a rotated file from ``offset`` (``b""`` at its end)."""
    at = [offset]

    def read() -> bytes:
        block = os.pread(fd, _READ_CHUNK, at[0])
        at[0] += len(block)
        return block

    return read


def _drain(read: Callable[[], bytes], carry: bytes, decode: Callable[[bytes, float, float], Iterator[_Item]],
           since: float, until: float) -> Generator[_Item, None, tuple[bytes, bool]]:
    """Decode the complete lines ``read`` gives until it gives nothing.

    Returns the unterminated rest, and whether a line at or after ``until`` was met (nothing later can show).
    """
    from .log_seek import line_time

    while block := read():
        data = carry + block if carry else block
        cut = data.rfind(b"\n") + 1
        carry = data[cut:]
        if cut:
            yield from decode(data[:cut], since, until)
            if until:
                stamp = line_time(data[data.rfind(b"\n", 0, cut - 1) + 1:cut])
                if stamp is not None and stamp >= until:
                    return carry, True
    return carry, False


class _Tail:
    """Reads a log file onward, moving to the new file when the writer rotates it."""

    def __init__(self, fd: int, path: str | None) -> None:
        self.fd, self.path, self.own = fd, path, False

    def read(self) -> bytes:
        """At most ``_READ_CHUNK`` bytes; ``b""`` only at the end of the newest file."""
        data = os.read(self.fd, _READ_CHUNK)
        if data or self.path is None or not self._rotated():
            return data
        data = os.read(self.fd, _READ_CHUNK)  # lines written just before the rename
        if data:
            return data
        try:
            new = os.open(self._next_path(), os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return b""
        self.close()
        self.fd, self.own = new, True
        return self.read()

    def _next_path(self) -> str:
        """The file written after ours: ``log.(k-1)`` if ours is now ``log.k``, else the oldest kept.

        (A reader more than max-file rotations behind has lost the files in between, as with Docker.)
        """
        assert self.path is not None
        chain = [*rotated_paths(self.path), self.path]
        ours = os.fstat(self.fd).st_ino
        for index, candidate in enumerate(chain[:-1]):
            try:
                if os.stat(candidate).st_ino == ours:
                    return chain[index + 1]
            except FileNotFoundError:
                continue
        return chain[0]

    def _rotated(self) -> bool:
        try:
            return os.stat(self.path).st_ino != os.fstat(self.fd).st_ino  # type: ignore[arg-type]
        except FileNotFoundError:
            return False

    def close(self) -> None:
        if self.own:
            os.close(self.fd)
            self.own = False


def rotated_paths(path: str) -> list[str]:
    """``<log>.N`` … ``<log>.1`` that exist, oldest first."""
    found = []
    index = 1
    while os.path.exists(f"{path}.{index}"):
        found.append(f"{path}.{index}")
        index += 1
    return list(reversed(found))
