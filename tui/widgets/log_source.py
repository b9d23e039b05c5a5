"""Where the log view's lines come from: a bounded ``LogBuffer`` that a ``LogFollower`` thread fills.

The follower reads ``Engine.container_logs(follow=True, tail=<the buffer's bound>)``:
the engine finds those last lines from the end of the log, so opening the panel
on a 1 GB log reads a few MB, not the gigabyte. It tells the view only how many
lines there are now (``LogGrew``, coalesced), so a flood never queues a message
per line.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from engine import Engine, LogEntry

__all__ = ["MAX_LINES", "LogBuffer", "LogFollower", "LogGrew"]

MAX_LINES = 100_000
"""Lines kept in memory; older ones are dropped a tenth at a time (memory stays bounded)."""
POST_INTERVAL = 0.05
"""The follower tells the view about new lines at most this often (20 Hz is smooth and cheap)."""


class LogBuffer:
    """One container's log lines: the follower thread appends, the view reads by index."""

    def __init__(self, max_lines: int = MAX_LINES) -> None:
        self.lines: list[LogEntry] = []
        self.max_lines = max_lines
        self.dropped = 0
        """Lines dropped from the front to keep memory bounded."""
        self.lock = threading.Lock()

    def extend(self, entries: list[LogEntry]) -> None:
        with self.lock:
            self.lines.extend(entries)
            if len(self.lines) > self.max_lines:
                cut = len(self.lines) - self.max_lines + self.max_lines // 10
                del self.lines[:cut]
                self.dropped += cut

    def __len__(self) -> int:
        return len(self.lines)


@dataclass
class LogGrew(Message, bubble=False):
    """The buffer has more lines (or the log ended); only the newest count matters."""

    lines: int
    ended: bool = False

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, LogGrew)


class LogFollower:
    """Reads ``Engine.container_logs(follow=True)`` on a daemon thread into a ``LogBuffer``.

    A daemon thread, not a Textual worker: the engine's follow generator only
    returns between lines, so a quiet container would keep a worker (and app
    exit) waiting; a daemon thread just stops at its next line.
    """

    def __init__(self, engine: Engine, container_id: str, buffer: LogBuffer,
                 grew: Callable[[LogGrew], None], failed: Callable[[BaseException], None]) -> None:
        self.engine, self.container_id, self.buffer = engine, container_id, buffer
        self.grew, self.failed = grew, failed
        self.stopped = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._run, name=f"berth-logs-{self.container_id[:12]}", daemon=True).start()

    def stop(self) -> None:
        self.stopped.set()

    def _run(self) -> None:
        last_post = 0.0
        try:
            entries = self.engine.container_logs(self.container_id, follow=True, tail=self.buffer.max_lines)
            for entry in entries:
                if self.stopped.is_set():
                    return
                self.buffer.extend([entry])
                if time.monotonic() - last_post >= POST_INTERVAL:
                    last_post = time.monotonic()
                    self.grew(LogGrew(len(self.buffer)))
        except Exception as err:  # noqa: BLE001 - handed to the app's one error handler
            if not self.stopped.is_set():
                self.failed(err)
        finally:
            if not self.stopped.is_set():
                self.grew(LogGrew(len(self.buffer), ended=True))
