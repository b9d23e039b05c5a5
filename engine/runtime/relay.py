"""Bytes between the caller's fds and an exec'd process's pipes or pty, until the process ends.

An exec'd process must never hold the caller's own files or terminal: with them it could re-mode or
truncate a host file through ``/proc/self/fd`` or type into the admin's shell. So, as Docker does, it
gets pipes (or a pty of its own) and this process copies, one poll loop for every direction: input
never waits behind output, and a command that does not read its stdin cannot stall its output.
"""

from __future__ import annotations

import errno
import os
import select
from collections.abc import Sequence

from .pty import DetachScanner, write_all

__all__ = ["Relay"]

_CHUNK = 65536
# After the process ended: what its streams still hold is copied, up to this much each (a child it left
# running may keep writing; Docker stops copying then too).
_DRAIN_MAX = 4 << 20
_IN = select.POLLIN | select.POLLHUP | select.POLLERR | select.POLLNVAL


class Relay:
    """Copies ``keys`` (source, target) and each of ``outputs`` (source, sink), owning the process-side fds.

    The fds of the process's side (the targets and output sources: our pipe ends or the pty master)
    are set non-blocking and closed by :meth:`close`; the caller's fds are only read and written,
    never changed (their flags belong to the caller's shell as well).
    """

    def __init__(self, *, keys: tuple[int, int] | None, outputs: Sequence[tuple[int, int]], eof_closes_input: bool,
                 detach_keys: bytes | None = None) -> None:
        """``eof_closes_input``: the end of our input closes its target (a pipe: the process sees EOF)."""
        self.keys, self.outputs = keys, list(outputs)
        self.eof_closes_input = eof_closes_input
        self.scanner = DetachScanner(detach_keys) if detach_keys else None
        self.detached = False
        """Set when the detach keys were typed: input stopped, output goes on until the process ends."""
        self._owned = {fd for fd in ([keys[1]] if keys else []) + [src for src, _ in self.outputs]}
        for fd in self._owned:
            os.set_blocking(fd, False)
        self._pending = b""

    def run(self, ended: int) -> None:
        """Copy until ``ended`` (a pidfd) is readable, then what the outputs still hold; then return."""
        poller = select.poll()
        while True:
            watched = self._watch()
            watched[ended] = select.POLLIN
            for fd, events in watched.items():
                poller.register(fd, events)
            ready = dict(poller.poll())
            for fd in watched:
                poller.unregister(fd)
            if ended in ready:
                self._drain()
                return
            self._step(ready)

    def close(self) -> None:
        """Close every process-side fd still open (idempotent)."""
        for fd in self._owned:
            os.close(fd)
        self._owned.clear()

    def _watch(self) -> dict[int, int]:
        watched: dict[int, int] = {}
        for src, _ in self.outputs:
            watched[src] = watched.get(src, 0) | select.POLLIN
        if self.keys is not None:
            source, target = self.keys
            if self._pending:
                watched[target] = watched.get(target, 0) | select.POLLOUT
            else:
                watched[source] = watched.get(source, 0) | select.POLLIN
        return watched

    def _step(self, ready: dict[int, int]) -> None:
        for src, sink in list(self.outputs):
            if ready.get(src, 0) & _IN:
                self._copy_out(src, sink)
        if self.keys is None:
            return
        source, target = self.keys
        if self._pending and ready.get(target, 0) & (select.POLLOUT | select.POLLERR | select.POLLHUP):
            self._write_pending(target)
        elif not self._pending and ready.get(source, 0) & _IN:
            self._read_input(source)

    def _copy_out(self, src: int, sink: int) -> bool:
        """One chunk from ``src`` to ``sink``; False once nothing more will come (or nothing is there now)."""
        try:
            data = os.read(src, _CHUNK)
        except BlockingIOError:
            return False
        except OSError as err:
            if err.errno != errno.EIO:  # EIO: a pty whose every slave is closed
                raise
            data = b""
        if data and write_all(sink, data):
            return True
        # End of stream, or our reader is gone (``berth exec … | head``): let the process see EPIPE too.
        self.outputs = [(s, k) for s, k in self.outputs if s != src]
        if not (self.keys is not None and self.keys[1] == src):
            self._release(src)
        return False

    def _read_input(self, source: int) -> None:
        try:
            data = os.read(source, _CHUNK)
        except OSError:
            data = b""
        if self.scanner is not None and data:
            data, self.detached = self.scanner.feed(data)
            if self.detached:
                self._pending = data
                self._end_input(flush=True)
                return
        if not data:
            self._end_input()
            return
        self._pending = data

    def _write_pending(self, target: int) -> None:
        try:
            written = os.write(target, self._pending)
        except BlockingIOError:
            return
        except OSError:  # EPIPE: the process closed its stdin
            self._pending = b""
            self._end_input()
            return
        self._pending = self._pending[written:]

    def _end_input(self, flush: bool = False) -> None:
        """No more input: a pipe is closed (EOF for the process); a pty only stops being written."""
        assert self.keys is not None
        target = self.keys[1]
        if flush and self._pending:
            write_all(target, self._pending)
        self._pending = b""
        self.keys = None
        if self.eof_closes_input:
            self._release(target)

    def _drain(self) -> None:
        for src, sink in list(self.outputs):
            copied = 0
            while copied < _DRAIN_MAX and self._copy_out(src, sink):
                copied += _CHUNK

    def _release(self, fd: int) -> None:
        if fd in self._owned:
            self._owned.discard(fd)
            os.close(fd)
