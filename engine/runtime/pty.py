"""Terminals for ``-t``: a controlling tty for the container's process, window sizes, raw mode, detach keys."""

from __future__ import annotations

import fcntl
import os
import struct
import termios
import tty
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

__all__ = ["take_controlling_terminal", "get_window_size", "set_window_size", "raw_mode", "DetachScanner",
           "DEFAULT_DETACH_KEYS", "open_pty", "copy_input", "copy_output"]

# ctrl-p ctrl-q, Docker's default detach sequence.
DEFAULT_DETACH_KEYS = b"\x10\x11"
# struct winsize from <asm-generic/termios.h>: rows, cols, xpixel, ypixel (unsigned shorts).
_WINSIZE = struct.Struct("HHHH")


def open_pty() -> tuple[int, int]:
    """(master, slave), both close-on-exec (the slave is dup'd onto 0-2 for the command)."""
    master, slave = os.openpty()
    for fd in (master, slave):
        os.set_inheritable(fd, False)
    return master, slave


def take_controlling_terminal() -> None:
    """In the command's process: a new session whose controlling terminal is stdin (so ctrl-c works)."""
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def get_window_size(fd: int) -> tuple[int, int]:
    """(rows, cols) of the terminal on ``fd``; (24, 80) when it is not one."""
    try:
        rows, cols, _, _ = _WINSIZE.unpack(fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * _WINSIZE.size))
    except OSError:
        return 24, 80
    return rows or 24, cols or 80


def set_window_size(fd: int, rows: int, cols: int) -> None:
    """Resize the pty on ``fd``; the kernel sends SIGWINCH to its foreground process group."""
    fcntl.ioctl(fd, termios.TIOCSWINSZ, _WINSIZE.pack(rows, cols, 0, 0))


@contextmanager
def raw_mode(fd: int) -> Iterator[None]:
    """Raw input on ``fd`` while inside (keys go to the container's tty as typed), restored after."""
    if not os.isatty(fd):
        yield
        return
    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


class DetachScanner:
    """Spots the detach sequence in keyboard input, holding back a prefix of it until it is decided."""

    def __init__(self, keys: bytes = DEFAULT_DETACH_KEYS) -> None:
        self.keys = keys
        self._held = b""

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """(bytes to pass on, whether the sequence was typed)."""
        out = bytearray()
        for byte in data:
            self._held += bytes([byte])
            if self.keys.startswith(self._held):
                if self._held == self.keys:
                    return bytes(out), True
                continue
            out += self._held
            self._held = b""
        return bytes(out), False


def copy_input(in_fd: int, master: int, stop: "threading.Event", detach_keys: bytes = DEFAULT_DETACH_KEYS) -> bool:
    """Copy keys from ``in_fd`` to the pty until ``stop`` is set or input ends; True if the user detached."""
    import select

    scanner = DetachScanner(detach_keys)
    while not stop.is_set():
        if not select.select([in_fd], [], [], 0.05)[0]:
            continue
        data = os.read(in_fd, 4096)
        if not data:
            return False
        data, detached = scanner.feed(data)
        if data:
            _write_all(master, data)
        if detached:
            return True
    return False


def copy_output(master: int, out_fd: int, stop: "threading.Event") -> None:
    """Copy the pty's output to ``out_fd`` until every slave is closed (EIO) or ``stop`` is set."""
    import select

    while not stop.is_set():
        if not select.select([master], [], [], 0.05)[0]:
            continue
        try:
            data = os.read(master, 65536)
        except OSError:
            return
        if not data:
            return
        _write_all(out_fd, data)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except BlockingIOError:
            import select

            select.select([], [fd], [], 1.0)


if TYPE_CHECKING:
    import threading
