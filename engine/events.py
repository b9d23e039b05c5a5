"""An append-only event journal, so every berth process sees every change.

A writer appends one JSON line after the record it describes is durable; a
line under PIPE_BUF bytes written with O_APPEND lands whole, so concurrent
writers never interleave. A reader keeps a byte offset and reads onward.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from .errors import FULL_ERRNOS

__all__ = ["Event", "EventJournal"]

_MAX_LINE = 4096  # PIPE_BUF on Linux: appends up to this size are atomic


@dataclass(frozen=True)
class Event:
    """One change: ``type`` is image, container or layer; ``action`` Docker's verb (tag, delete, start…)."""

    time: float
    type: str
    action: str
    id: str
    name: str = ""


class EventJournal:
    """The journal of one store root."""

    def __init__(self, path: str) -> None:
        self.path = path

    def append(self, type: str, action: str, id: str, name: str = "") -> None:
        """Record a change that has already happened."""
        line = json.dumps({"time": time.time(), "type": type, "action": action, "id": id, "name": name},
                          separators=(",", ":")).encode() + b"\n"
        if len(line) > _MAX_LINE:
            line = json.dumps({"time": time.time(), "type": type, "action": action, "id": id},
                              separators=(",", ":")).encode() + b"\n"
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)
        except OSError as err:
            # The change is done and durable; on a full disk its event is dropped (as Docker's logger drops
            # lines) rather than failing a command that may be freeing the space (rm -f).
            if err.errno not in FULL_ERRNOS:
                raise

    def end(self) -> int:
        """The offset a new reader starts from to see only what happens next."""
        try:
            return os.path.getsize(self.path)
        except FileNotFoundError:
            return 0

    def read(self, offset: int) -> tuple[list[Event], int]:
        """Whole events after ``offset``, and the offset after the last whole line."""
        try:
            with open(self.path, "rb") as f:
                f.seek(offset)
                data = f.read()
        except FileNotFoundError:
            return [], offset
        cut = data.rfind(b"\n") + 1
        events = []
        for raw in data[:cut].splitlines():
            try:
                item = json.loads(raw)
                events.append(Event(float(item["time"]), item["type"], item["action"], item["id"], item.get("name", "")))
            except (ValueError, KeyError, TypeError):
                continue  # a damaged line must not stop the readers
        return events, offset + cut

    def follow(self, offset: int, cancel: threading.Event, interval: float = 0.1) -> Iterator[Event]:
        """Events after ``offset`` as they come, until ``cancel`` is set."""
        while not cancel.is_set():
            events, offset = self.read(offset)
            yield from events
            if not events:
                cancel.wait(interval)
