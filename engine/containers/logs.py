"""Docker's json-file log: one ``{"log","stream","time"}`` object per line, written by the monitor.

The writer splits a stream at newlines (a line longer than 16 KiB is cut, as
Docker does); the reader filters by time and tails without parsing lines it
will not show.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from typing import NamedTuple

from ..images import format_time, parse_time

__all__ = ["LogWriter", "LogEntry", "read_entries", "tail_lines", "parse_entry", "follow_fd", "rotated_paths"]

# Docker's bufio reader size for container output: longer lines become several entries.
MAX_LINE = 16 * 1024
_READ_CHUNK = 1 << 20


class LogEntry(NamedTuple):
    """One line of a container's output (a tuple: 200k of them must be cheap to make)."""

    stream: str
    log: str
    time: str


class LogWriter:
    """Appends one container's stdout and stderr to its json-file log."""

    def __init__(self, path: str, raw: bool = False, max_size: int = 0, max_file: int = 1) -> None:
        self.path = path
        self.fd = self._open()
        self.raw = raw
        """A terminal's output: every read is one entry (a prompt has no newline to wait for)."""
        self.max_size, self.max_file = max_size, max(1, max_file)
        """``--log-opt max-size`` (0: never rotate) and ``max-file`` (files kept, the current one included)."""
        self.size = os.fstat(self.fd).st_size
        self._partial: dict[str, bytes] = {"stdout": b"", "stderr": b""}

    def _open(self) -> int:
        return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)

    def _rotate(self) -> None:
        """``log`` → ``log.1`` → … → ``log.<max-file - 1>``; with max-file 1 the log restarts empty."""
        os.close(self.fd)
        if self.max_file == 1:
            os.unlink(self.path)
        for index in range(self.max_file - 1, 0, -1):
            source = self.path if index == 1 else f"{self.path}.{index - 1}"
            if os.path.exists(source):
                os.replace(source, f"{self.path}.{index}")
        self.fd = self._open()
        self.size = 0

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
            entry = ('{"log":%s,"stream":"%s","time":"%s"}\n' % (
                json.dumps(line.decode("utf-8", "replace")), stream, stamp)).encode()
            batch.append(entry)
            batch_size += len(entry)
            if self.max_size and self.size + batch_size >= self.max_size:
                self._append(b"".join(batch))
                self._rotate()
                batch, batch_size = [], 0
        if batch:
            self._append(b"".join(batch))

    def _append(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view):]
        self.size += len(data)

    def close(self) -> None:
        os.close(self.fd)


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


# How long a follower sleeps when the log has no new bytes (it wakes at once when the container ends).
FOLLOW_POLL_SECONDS = 0.02


def follow_fd(fd: int, ended: Callable[[float], bool], since: float = 0.0, until: float = 0.0,
              start_tail: int = -1, path: str | None = None, before: bytes = b"") -> Iterator[LogEntry]:
    """Entries from an open log file: what it holds (last ``start_tail`` lines), then new ones until ``ended``.

    ``ended(timeout)`` waits up to ``timeout`` seconds and says whether the writer
    is done; after it says so, the file is read once more to its end. With
    ``path``, a rotation (the path now names another file) is followed: the old
    file is read to its end, then the new one from its start. ``before`` is older
    log text (rotated files) shown ahead of the file's own.
    """
    tail = _Tail(fd, path)
    try:
        data = before + tail.read()
        complete = data[: data.rfind(b"\n") + 1]
        partial = data[len(complete):]
        yield from read_entries(tail_lines(complete, start_tail), since, until)
        finished = False
        while not finished:
            finished = ended(FOLLOW_POLL_SECONDS)
            data = partial + tail.read()
            complete = data[: data.rfind(b"\n") + 1]
            partial = data[len(complete):]
            if complete:
                yield from read_entries(complete, since, until)
    finally:
        tail.close()


class _Tail:
    """Reads a log file onward, moving to the new file when the writer rotates it."""

    def __init__(self, fd: int, path: str | None) -> None:
        self.fd, self.path, self.own = fd, path, False

    def read(self) -> bytes:
        data = _read_to_end(self.fd)
        if self.path is None or not self._rotated():
            return data
        data += _read_to_end(self.fd)  # lines written just before the rename
        try:
            new = os.open(self._next_path(), os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return data
        self.close()
        self.fd, self.own = new, True
        return data + self.read()

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


def _read_to_end(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, _READ_CHUNK):
        chunks.append(chunk)
    return b"".join(chunks)

