"""Terminals for ``-t``: a controlling tty for the container's process, window sizes, raw mode, detach keys."""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import struct
import termios
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

__all__ = [
    "DEFAULT_DETACH_KEYS",
    "DetachScanner",
    "console_socketpair",
    "follow_window_size",
    "get_window_size",
    "receive_console",
    "set_window_size",
    "setup_console",
    "take_controlling_terminal",
]

# ctrl-p ctrl-q, Docker's default detach sequence.
DEFAULT_DETACH_KEYS = b"\x10\x11"
# struct winsize from <asm-generic/termios.h>: rows, cols, xpixel, ypixel (unsigned shorts).
_WINSIZE = struct.Struct("HHHH")
# <asm-generic/ioctls.h>: _IOR('T', 0x30, unsigned int) and _IOW('T', 0x31, int).
_TIOCGPTN = 0x80045430
_TIOCSPTLCK = 0x40045431
# The master travels with a one-byte message (SCM_RIGHTS needs at least one byte of data).
_CONSOLE_MESSAGE = b"m"


def console_socketpair() -> tuple[int, int]:
    """(ours, the container's): the unix socketpair the container's pty master comes back on (runc's console socket)."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    return ours.detach(), theirs.detach()


def _open_console_pair() -> tuple[int, int]:
    """A new pty from the devpts mounted at /dev/pts of *this* mount namespace: (master, slave)."""
    master = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        fcntl.ioctl(master, _TIOCSPTLCK, struct.pack("i", 0))
        number = struct.unpack("I", fcntl.ioctl(master, _TIOCGPTN, b"\0" * 4))[0]
        slave = os.open(f"/dev/pts/{number}", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    except BaseException:
        os.close(master)
        raise
    return master, slave


def setup_console(sock: int, size: tuple[int, int] | None, uid: int = 0) -> None:
    """In the container (after pivot_root): a pty of its own devpts as stdio and controlling terminal.

    The master goes back over ``sock`` before exec, so the process sees
    ``/dev/pts/N`` of its own devpts (``tty``, ``test -t 0``) and the monitor
    holds the other side; ``uid`` owns the slave, as devpts would make it for
    a process that opened /dev/ptmx as that user.
    """
    master, slave = _open_console_pair()
    try:
        if size is not None:
            set_window_size(master, *size)
        if uid:
            os.fchown(slave, uid, -1)
        os.setsid()
        for target in (0, 1, 2):
            os.dup2(slave, target, inheritable=True)
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        with socket.socket(fileno=os.dup(sock)) as conn:
            socket.send_fds(conn, [_CONSOLE_MESSAGE], [master])
    finally:
        os.close(slave)
        os.close(master)
        os.close(sock)


def receive_console(sock: int) -> int:
    """The pty master the container sent over ``sock`` (closed here); OSError if it sent none."""
    with socket.socket(fileno=sock) as conn:
        _data, fds, _flags, _addr = socket.recv_fds(conn, len(_CONSOLE_MESSAGE), 1)
    if not fds:
        raise OSError(errno.EPROTO, "the container sent no terminal")
    os.set_inheritable(fds[0], False)
    return fds[0]


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
def follow_window_size(source: int, master: int) -> Iterator[None]:
    """While inside, SIGWINCH on our terminal ``source`` resizes the pty ``master`` (main thread only)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread() or not os.isatty(source):
        yield
        return

    def resize(*_: object) -> None:
        try:
            set_window_size(master, *get_window_size(source))
        except OSError:
            pass  # the pty is gone: the command ended

    previous = signal.signal(signal.SIGWINCH, resize)
    try:
        yield
    finally:
        signal.signal(signal.SIGWINCH, previous)


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


def write_all(fd: int, data: bytes) -> bool:
    """Write everything, waiting when ``fd`` is non-blocking; False if its reader is gone."""
    import select

    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except BlockingIOError:
            select.select([], [fd], [], 1.0)
        except OSError:  # EPIPE, or EIO from a terminal that hung up
            return False
    return True


if TYPE_CHECKING:
    pass
