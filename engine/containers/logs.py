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

__all__ = ["LogWriter", "LogEntry", "read_entries", "tail_lines", "parse_entry", "follow_fd"]

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

    def __init__(self, path: str, raw: bool = False) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        self.raw = raw
        """A terminal's output: every read is one entry (a prompt has no newline to wait for)."""
        self._partial: dict[str, bytes] = {"stdout": b"", "stderr": b""}

    def feed(self, stream: str, data: bytes, now: float) -> None:
        """Log every complete line of ``data`` (plus what was left over from before)."""
        if self.raw:
            self._write(stream, [data], now)
            return
        buf = self._partial[stream] + data
        lines = buf.split(b"\n")
        rest = lines.pop()
        while len(rest) > MAX_LINE:
            lines.append(rest[:MAX_LINE])
            rest = rest[MAX_LINE:]
        self._partial[stream] = rest
        self._write(stream, [line + b"\n" for line in lines], now)

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
        out = "".join(
            '{"log":%s,"stream":"%s","time":"%s"}\n' % (json.dumps(line.decode("utf-8", "replace")), stream, stamp)
            for line in lines
        )
        data = memoryview(out.encode())
        while data:
            data = data[os.write(self.fd, data):]

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
              start_tail: int = -1) -> Iterator[LogEntry]:
    """Entries from an open log file: what it holds (last ``start_tail`` lines), then new ones until ``ended``.

    ``ended(timeout)`` waits up to ``timeout`` seconds and says whether the writer
    is done; after it says so, the file is read once more to its end.
    """
    data = _read_to_end(fd)
    complete = data[: data.rfind(b"\n") + 1]
    partial = data[len(complete):]
    yield from read_entries(tail_lines(complete, start_tail), since, until)
    finished = False
    while not finished:
        finished = ended(FOLLOW_POLL_SECONDS)
        data = partial + _read_to_end(fd)
        complete = data[: data.rfind(b"\n") + 1]
        partial = data[len(complete):]
        if complete:
            yield from read_entries(complete, since, until)


def _read_to_end(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, _READ_CHUNK):
        chunks.append(chunk)
    return b"".join(chunks)

