"""The monitor's output thread: copies every container's stdout/stderr to its log, and nothing else.

Why a thread of its own: the monitor's main loop does slow work (mounting roots,
copying image files into fresh volumes, netlink, restarts, record writes). A
container's pipe holds 64 KiB; while nobody reads it, the container blocks in
write(2). Here output is drained whatever the main loop is busy with (the kernel
calls release the GIL).

The main thread hands a container over with ``add`` and, once its init is dead,
asks for ``finish``: the rest of the pipes is read, the log flushed and closed,
and ``done(run)`` is called (on this thread; it must only queue work).
"""

from __future__ import annotations

import os
import queue
import selectors
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["Drainer", "empty_wake_pipe"]

_READ_SIZE = 64 * 1024
# At most this many reads of one pipe per turn, so one flooding container cannot starve the others.
_READS_PER_TURN = 4


class Drained(Protocol):
    streams: dict[int, str]
    log: Any


class Drainer(threading.Thread):
    def __init__(self, done: Callable[[Any], None]) -> None:
        super().__init__(name="berth-drain", daemon=True)
        self.done = done
        self.selector = selectors.DefaultSelector()
        self.requests: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._wake_r, self._wake_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self.selector.register(self._wake_r, selectors.EVENT_READ, None)

    def add(self, run: Drained) -> None:
        """Start copying ``run.streams`` (fds this thread now owns) to ``run.log``."""
        self._post("add", run)

    def finish(self, run: Drained) -> None:
        """The container is dead: drain what is left, close its log, then ``done(run)``."""
        self._post("finish", run)

    def _post(self, kind: str, run: Drained) -> None:
        self.requests.put((kind, run))
        try:
            os.write(self._wake_w, b"\0")
        except BlockingIOError:
            pass  # already awake

    def run(self) -> None:
        while True:
            for key, _ in self.selector.select():
                try:
                    if key.data is None:
                        self._requests()
                    else:
                        self._read(key.data, key.fd, _READS_PER_TURN)
                except Exception:  # a bug here must not stop every other container's logging
                    traceback.print_exc(file=sys.stderr)

    def _requests(self) -> None:
        empty_wake_pipe(self._wake_r)
        while True:
            try:
                kind, run = self.requests.get_nowait()
            except queue.Empty:
                return
            if kind == "add":
                for fd in list(run.streams):
                    os.set_blocking(fd, False)
                    self.selector.register(fd, selectors.EVENT_READ, run)
            else:
                self._finish(run)

    def _finish(self, run: Drained) -> None:
        for fd in list(run.streams):
            if self._read(run, fd, None):
                self._close(run, fd)
        try:
            run.log.flush(time.time())
        finally:
            run.log.close()
            self.done(run)

    def _read(self, run: Drained, fd: int, turns: int | None) -> bool:
        """Copy what is buffered in one pipe to the log; False once the stream has ended (and is closed)."""
        while turns is None or turns > 0:
            try:
                data = os.read(fd, _READ_SIZE)
            except BlockingIOError:
                return True
            except OSError:  # EIO: a pty master once every slave is closed
                data = b""
            if not data:
                self._close(run, fd)
                return False
            run.log.feed(run.streams[fd], data, time.time())
            if turns is not None:
                turns -= 1
        return True

    def _close(self, run: Drained, fd: int) -> None:
        """Stop reading ``fd`` and close it; a pty master is left for the main thread to close (``attach``
        may be handing it to a client right now, and a closed number could be reused by another file)."""
        try:
            self.selector.unregister(fd)
        except (KeyError, ValueError):
            pass
        del run.streams[fd]
        if fd != getattr(run, "master", -1):
            os.close(fd)


def empty_wake_pipe(fd: int) -> None:
    """Read a non-blocking wake-up pipe dry: the wake-ups only say "look at the queue", however many came."""
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass
