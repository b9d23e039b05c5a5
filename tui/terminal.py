"""The user's terminal: raw mode, window sizes, and copying between it and a container's attachment.

Front-end plumbing shared by the CLI verbs (``run``, ``start -a``, ``attach``,
``exec``, ``logs``) and the app (``run -it`` and attach hand the terminal over
with ``App.suspend``). The engine gives back an attachment (a pty master or a
stream of log entries); what to do with the keyboard and the screen is ours.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import struct
import sys
import termios
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from engine import ContainerStartError, write_all

if TYPE_CHECKING:
    from engine import CreateOptions, Engine

__all__ = [
    "attach_here",
    "console_size",
    "get_window_size",
    "nothing",
    "raw_mode",
    "real_fd",
    "run_here",
    "set_window_size",
    "start",
    "stream",
    "write_chunks",
]

# struct winsize from <asm-generic/termios.h>: rows, cols, xpixel, ypixel (unsigned shorts).
_WINSIZE = struct.Struct("HHHH")
_DEFAULT_SIZE = (24, 80)  # what a terminal that reports nothing is taken to be (VT100)
_POLL = 0.05  # seconds a key reader waits before it checks whether it should stop


def get_window_size(fd: int) -> tuple[int, int]:
    """(rows, cols) of the terminal on ``fd``; (24, 80) when it is not one."""
    try:
        rows, cols, _, _ = _WINSIZE.unpack(fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * _WINSIZE.size))
    except OSError:
        return _DEFAULT_SIZE
    return rows or _DEFAULT_SIZE[0], cols or _DEFAULT_SIZE[1]


def set_window_size(fd: int, rows: int, cols: int) -> None:
    """Resize the pty on ``fd``; the kernel sends SIGWINCH to its foreground process group."""
    fcntl.ioctl(fd, termios.TIOCSWINSZ, _WINSIZE.pack(rows, cols, 0, 0))


@contextlib.contextmanager
def raw_mode(fd: int) -> Iterator[None]:
    """Raw input on ``fd`` while inside (keys go to the container's tty as typed), restored after."""
    import tty

    if not os.isatty(fd):
        yield
        return
    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


@contextlib.contextmanager
def nothing() -> Iterator[None]:
    """A context that does nothing: ``with raw_mode(0) if tty else nothing():``."""
    yield


def console_size() -> tuple[int, int] | None:
    """Our terminal's (rows, cols), for a ``-t`` container's pty before its command starts; None without one."""
    fd = next((fd for fd in (0, 1) if os.isatty(fd)), None)
    return None if fd is None else get_window_size(fd)


def real_fd(stream: Any) -> bool:
    """Whether ``stream`` has a file descriptor (a StringIO stand-in in tests has none)."""
    try:
        stream.fileno()
        return True
    except (AttributeError, OSError, ValueError):
        return False


def _copy_input(in_fd: int, master: int, stop: threading.Event) -> bool:
    """Copy keys from ``in_fd`` to the pty until ``stop`` is set or input ends; True if the user detached."""
    import select

    from engine import DetachScanner

    scanner = DetachScanner()
    while not stop.is_set():
        if not select.select([in_fd], [], [], _POLL)[0]:
            continue
        data = os.read(in_fd, 4096)
        if not data:
            return False
        data, detached = scanner.feed(data)
        if data and not write_all(master, data):
            return False  # the pty hung up: the container is gone
        if detached:
            return True
    return False


def start(engine: Engine, cid: str, auto_remove: bool, **options: Any) -> Any:
    """``container_start``; a container that fails to start is removed when ``--rm`` asked for it."""
    try:
        return engine.container_start(cid, **options)
    except ContainerStartError:
        if auto_remove:
            engine.container_remove(cid, force=True)
        raise


def _copy_output(attachment: Any) -> None:
    """The container's lines to our stdout and stderr, as they come."""
    for entry in attachment.entries():
        out = sys.stdout if entry.stream == "stdout" else sys.stderr
        out.write(entry.log)
        out.flush()


def stream(attachment: Any, interactive: bool = False) -> int:
    """Copy the container's output to ours until it exits; Ctrl-C and SIGTERM go to the container."""
    if attachment.terminal is not None:
        return _stream_terminal(attachment, interactive)
    previous = {sig: signal.signal(sig, lambda s, _f: attachment.kill(s)) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        _copy_output(attachment)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        attachment.close()
    return int(attachment.exit_code or 0)


def _stream_terminal(attachment: Any, interactive: bool) -> int:
    """``-t``: our terminal in raw mode; keys (ctrl-c too) go to the container's pty, ctrl-p ctrl-q detaches."""

    def resize(*_: object) -> None:
        set_window_size(attachment.terminal, *get_window_size(0 if sys.stdin.isatty() else 1))

    resize()
    previous = signal.signal(signal.SIGWINCH, resize)
    stop = threading.Event()

    def keys() -> None:
        if _copy_input(0, attachment.terminal, stop):
            attachment.detached.set()

    reader = threading.Thread(target=keys, daemon=True)
    try:
        with raw_mode(0) if interactive else nothing():
            if interactive:
                reader.start()
            for entry in attachment.entries():
                sys.stdout.write(entry.log)
                sys.stdout.flush()
    finally:
        stop.set()
        signal.signal(signal.SIGWINCH, previous)
        attachment.close()
    if attachment.detached.is_set():
        print("read escape sequence", file=sys.stderr)
        return 0
    return int(attachment.exit_code or 0)


def run_here(engine: Engine, options: CreateOptions) -> tuple[str, str]:
    """The app's ``run -it``: create, start attached to this terminal, stream until exit or detach.

    Returns the container's ID and how it ended, for a notification. A container that
    fails to start is removed when ``--rm`` asked for it, as ``berth run`` does.
    """
    cid = engine.container_create(options)
    return cid, attach_here(start(engine, cid, options.auto_remove, attach=True, console_size=console_size()))


def attach_here(attachment: Any) -> str:
    """The app's attach, on the terminal it handed over; returns how it ended, for a notification.

    A ``-t`` container gets the keys (ctrl-p ctrl-q detaches, as on the command line). Any other shows
    its output until it exits or Ctrl-C, which only detaches: the app must never be a way to stop a
    service by accident (Docker's ``attach --sig-proxy=false``).
    """
    if attachment.terminal is None:
        with _keys_detach(attachment):
            try:
                _copy_output(attachment)
            finally:
                attachment.close()
    else:
        _stream_terminal(attachment, interactive=True)
    return "detached" if attachment.detached.is_set() else f"exited ({attachment.exit_code})"


@contextlib.contextmanager
def _keys_detach(attachment: Any) -> Iterator[None]:
    """While inside, Ctrl-C or ctrl-p ctrl-q on our terminal detaches: read as bytes, never as signals.

    Keys are read unbuffered with signals and flow control off (ctrl-q is XON otherwise);
    output processing stays on, so the container's lines still end where they should.
    """
    import select

    from engine import DetachScanner

    if not sys.stdin.isatty():
        yield
        return
    saved = termios.tcgetattr(0)
    mode = termios.tcgetattr(0)
    mode[0] &= ~termios.IXON
    mode[3] &= ~(termios.ICANON | termios.ECHO | termios.ISIG | termios.IEXTEN)
    stop = threading.Event()

    def keys() -> None:
        scanner = DetachScanner()
        while not stop.is_set():
            if not select.select([0], [], [], _POLL)[0]:
                continue
            data = os.read(0, 1024)
            if not data or b"\x03" in data or scanner.feed(data)[1]:
                attachment.detached.set()
                return

    termios.tcsetattr(0, termios.TCSANOW, mode)
    reader = threading.Thread(target=keys, name="detach-keys", daemon=True)
    reader.start()
    try:
        yield
    finally:
        stop.set()
        reader.join()
        termios.tcsetattr(0, termios.TCSADRAIN, saved)


def write_chunks(chunks: Iterator[tuple[str, bytes]], flush: bool) -> None:
    """Bytes straight to the binary streams, one write per run of lines (200k lines: a few writes, no decode)."""
    sys.stdout.flush()
    sys.stderr.flush()
    streams = {"stdout": _binary(sys.stdout), "stderr": _binary(sys.stderr)}
    last = None
    for name, data in chunks:
        out = streams[name]
        if last is not None and last is not out:
            last.flush()  # keep the order of the two streams where both go to one place
        out.write(data)
        if flush:
            out.flush()
        last = out
    if last is not None:
        last.flush()


def _binary(stream: Any) -> Any:
    """The byte stream under a text stream (a StringIO stand-in has none: write text to it instead)."""
    buffer = getattr(stream, "buffer", None)
    return buffer if buffer is not None else _TextSink(stream)


class _TextSink:
    """Bytes written to a text stream that has no byte stream under it."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def write(self, data: bytes) -> None:
        self.stream.write(data.decode("utf-8", "replace"))

    def flush(self) -> None:
        self.stream.flush()
