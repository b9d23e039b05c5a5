"""Talking to the store's monitor, starting it (its keeper, which starts it) first when none runs."""

from __future__ import annotations

import json
import os
import select
import socket
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

from ..errors import MonitorError
from ..store.locks import get_lock
from ..store.paths import MONITOR_LOG, MONITOR_SOCKET, MONITOR_SPAWN_LOCK

if TYPE_CHECKING:
    from ..context import StoreContext

__all__ = ["Channel", "MonitorClient", "socket_path", "stdin_pipe"]

_SPAWN_TIMEOUT = 10.0
_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def socket_path(dir_fd: int) -> str:
    """The socket's path through /proc/self/fd, short whatever the root's length (sun_path is 108 bytes).

    It lives here, not in ``monitor``: a client must not import the monitor and the runtime it drives.
    """
    return f"/proc/self/fd/{dir_fd}/{MONITOR_SOCKET}"


class MonitorClient:
    """One request per connection; ``reply`` reads the next JSON line the monitor sends on it."""

    def __init__(self, store: StoreContext) -> None:
        self.store = store

    def _connect(self) -> socket.socket | None:
        """A connection to a live monitor; None when there is none.

        A monitor whose keeper holds no lock any more is dying (the keeper's death kills it a
        moment later): talking to it would only lose the request.
        """
        from .recovery import monitor_alive_at

        for _ in range(100):
            sock = self._connect_once()
            if sock is None or monitor_alive_at(self.store.paths):
                return sock
            sock.close()
            time.sleep(0.01)
        return None

    def _connect_once(self) -> socket.socket | None:
        dir_fd = os.open(self.store.root, os.O_PATH | os.O_CLOEXEC)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        try:
            sock.connect(socket_path(dir_fd))
            return sock
        except (FileNotFoundError, ConnectionRefusedError):
            sock.close()
            return None
        finally:
            os.close(dir_fd)

    def connect(self) -> socket.socket:
        """A connection to the monitor, spawning one (once, under the spawn lock) if needed."""
        sock = self._connect()
        if sock is not None:
            return sock
        with get_lock(self.store.paths.monitor_file(MONITOR_SPAWN_LOCK)):
            sock = self._connect()
            if sock is None:
                self._spawn()
                sock = self._wait_for_socket()
        return sock

    def _spawn(self) -> None:
        import subprocess

        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [_PACKAGE_ROOT,
                                                                          os.environ.get("PYTHONPATH")]))}
        with open(self.store.paths.monitor_file(MONITOR_LOG), "ab") as log:
            status = subprocess.call([sys.executable, "-m", "engine.containers.keeper", self.store.root],
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env, cwd="/",
                                     close_fds=True)
        if status != 0:
            raise MonitorError(f"the container monitor failed to start (see {MONITOR_LOG} in the store root)")

    def _wait_for_socket(self) -> socket.socket:
        deadline = time.monotonic() + _SPAWN_TIMEOUT
        while time.monotonic() < deadline:
            sock = self._connect()
            if sock is not None:
                return sock
            time.sleep(0.01)
        raise MonitorError(f"the container monitor did not answer within {_SPAWN_TIMEOUT:.0f}s "
                           f"(see {MONITOR_LOG} in the store root)")

    def request(self, message: dict[str, Any], fds: tuple[int, ...] = ()) -> Channel:
        """Send one request; the returned channel carries the replies."""
        sock = self.connect()
        data = json.dumps(message).encode() + b"\n"
        try:
            if fds:
                socket.send_fds(sock, [data], list(fds))
            else:
                sock.sendall(data)
        except OSError as err:
            sock.close()
            raise MonitorError(f"the container monitor went away: {err.strerror}") from err
        return Channel(sock)


def stdin_pipe(source: int) -> int:
    """A pipe's read end to give a container as its stdin (``run -i``), fed from ``source`` by a thread.

    Why not ``source`` itself: the container would hold the caller's own file or terminal, and
    ``echo x > /proc/self/fd/0`` would write to it (or TIOCSTI type into it). Docker copies too.
    The copy ends at end of input (the container then reads EOF) or when the container is gone.
    """
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    threading.Thread(target=_copy_stdin, args=(source, write_end), name="berth-stdin", daemon=True).start()
    return read_end


def _copy_stdin(source: int, sink: int) -> None:
    poller = select.poll()
    poller.register(source, select.POLLIN)
    poller.register(sink, 0)  # POLLERR/POLLHUP: the container closed its end
    try:
        while True:
            ready = dict(poller.poll())
            if ready.get(sink):
                return
            if not ready.get(source):
                continue
            data = os.read(source, 65536)
            if not data:
                return
            view = memoryview(data)
            while view:
                view = view[os.write(sink, view):]
    except OSError:
        return  # EPIPE (it exited) or an unreadable stdin: either way the copy is over
    finally:
        os.close(sink)


class Channel:
    """The replies to one request."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._file = sock.makefile("rb")

    def reply(self) -> dict[str, Any] | None:
        """The next reply; None if the monitor closed the connection (or died)."""
        line = self._file.readline()
        if not line.endswith(b"\n"):
            return None
        reply: dict[str, Any] = json.loads(line)
        return reply

    def close(self) -> None:
        self._file.close()
        self.sock.close()

    def __enter__(self) -> Channel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

