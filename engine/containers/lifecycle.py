"""Start, wait, stop, kill, restart and remove: CLI-side halves of what the monitor does.

Signals go straight from the command to the container's init (its host pid
is in the record); the monitor sees the exit and records it, and a ``wait``
request on its socket tells the command when that is done.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..errors import (
    ContainerConflict,
    ContainerNotFound,
    ContainerNotRunning,
    ContainerStartError,
    MonitorError,
    StoreFull,
)
from .client import Channel, MonitorClient
from .logs import LogEntry, follow_fd
from .recovery import reconcile

if TYPE_CHECKING:
    from ..context import StoreContext

__all__ = ["Attachment", "start", "wait", "stop", "kill", "remove", "current", "pause", "attach_terminal",
           "open_wait"]


def current(store: StoreContext, cid: str) -> dict[str, Any]:
    """The container's config, with a stale "running" fixed if its monitor is gone."""
    configs = reconcile(store, [store.records.load(cid)])
    if not configs:  # a dead monitor's ``--rm`` container, removed by the recovery
        raise ContainerNotFound(f"No such container: {cid}")
    return configs[0]


def start(store: StoreContext, cid: str, *, stdin: int | None = None, attach: bool = False,
          console_size: tuple[int, int] | None = None) -> Channel | None:
    """Ask the monitor to start the container; with ``attach`` the channel later reports its exit."""
    if current(store, cid)["State"]["Running"]:
        return None
    from .client import stdin_pipe

    fds = (stdin_pipe(stdin),) if stdin is not None else ()
    request: dict[str, Any] = {"op": "start", "id": cid, "wait": attach}
    if console_size is not None:
        request["console_size"] = list(console_size)
    try:
        channel = MonitorClient(store).request(request, fds)
    finally:
        for fd in fds:
            os.close(fd)  # the monitor has its own copy now; the container reads the copier's pipe
    reply = channel.reply()
    if reply is None or "error" in reply:
        channel.close()
        if reply is None:
            raise MonitorError("the container monitor exited while starting the container")
        raise ContainerStartError(reply["error"], int(reply.get("exit_code") or 125))
    if not attach:
        channel.close()
        return None
    return channel


def wait(store: StoreContext, cid: str) -> int:
    """Block until the container is not running; its exit code."""
    config = current(store, cid)
    if not config["State"]["Running"]:
        return int(config["State"]["ExitCode"])
    with MonitorClient(store).request({"op": "wait", "id": cid}) as channel:
        reply = channel.reply()
    if reply is None or reply.get("exit_code") is None:
        return int(current(store, cid)["State"]["ExitCode"])
    return int(reply["exit_code"])


def pause(store: StoreContext, cid: str, frozen: bool) -> None:
    """Freeze or thaw the container through its monitor, which owns its cgroup."""
    config = current(store, cid)
    if not config["State"]["Running"]:
        raise ContainerNotRunning(f"Container {cid} is not running")
    if bool(config["State"]["Paused"]) == frozen:
        raise ContainerConflict(f"Container {cid} is {'already' if frozen else 'not'} paused")
    with MonitorClient(store).request({"op": "pause" if frozen else "unpause", "id": cid}) as channel:
        reply = channel.reply()
    if reply is None or "error" in reply:
        raise ContainerConflict(reply["error"] if reply else "the container monitor went away")


def _thaw(store: StoreContext, config: dict[str, Any]) -> None:
    """A frozen container cannot act on a signal: thaw it first (Docker does the same on stop and kill)."""
    if config["State"].get("Paused"):
        try:
            pause(store, config["ID"], False)
        except ContainerConflict:
            pass


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def kill(store: StoreContext, cid: str, sig: int = signal.SIGKILL) -> None:
    config = current(store, cid)
    if not config["State"]["Running"]:
        raise ContainerNotRunning(f"Container {cid} is not running")
    _signal(int(config["State"]["Pid"]), sig)
    _thaw(store, config)


def stop(store: StoreContext, cid: str, timeout: int | None = None) -> None:
    """The stop signal, then SIGKILL after ``timeout`` seconds (the container's StopTimeout, or 10)."""
    _mark_stopped(store, cid)
    config = current(store, cid)
    if not config["State"]["Running"]:
        return
    # spec loads the runtime's modules: only stop needs them, not run or rm.
    from .spec import stop_signal, stop_timeout

    grace = stop_timeout(config) if timeout is None else timeout
    pid = int(config["State"]["Pid"])
    with MonitorClient(store).request({"op": "wait", "id": cid}) as channel:
        _signal(pid, stop_signal(config))
        _thaw(store, config)
        if not select.select([channel.sock], [], [], max(grace, 0))[0]:
            _signal(pid, signal.SIGKILL)
        channel.reply()
    current(store, cid)


def _mark_stopped(store: StoreContext, cid: str) -> None:
    """Record that the user stopped it (restart policies leave it be); on a full disk, stop all the same."""
    try:
        store.records.update(cid, lambda c: c.update(HasBeenManuallyStopped=True))
    except StoreFull:
        pass


def remove(store: StoreContext, cid: str, *, force: bool = False, volumes: bool = False) -> None:
    from .remove import remove_container_files

    config = current(store, cid)
    if config["State"]["Running"]:
        if not force:
            raise ContainerConflict(f"You cannot remove a running container {cid}. Stop the container before "
                                    "attempting removal or force remove")
        _mark_stopped(store, cid)
        _signal(int(config["State"]["Pid"]), signal.SIGKILL)
        _thaw(store, config)
        wait(store, cid)
    remove_container_files(store, cid, volumes=volumes)


def attach_terminal(store: StoreContext, cid: str) -> int:
    """The pty master of a running ``-t`` container, passed over the monitor's socket."""
    with MonitorClient(store).request({"op": "attach", "id": cid}) as channel:
        data, fds, _flags, _addr = socket.recv_fds(channel.sock, 4096, 1)
    if not fds:
        reply = json.loads(data or b"{}")
        raise ContainerConflict(reply.get("error", "the container monitor went away"))
    return fds[0]


def open_wait(store: StoreContext, cid: str) -> Channel:
    """A channel that reports the container's exit code when it stops."""
    return MonitorClient(store).request({"op": "wait", "id": cid})


class Attachment:
    """A started container's output as it is logged, and its exit code (``docker run`` without -d).

    ``terminal`` is the pty master of a ``-t`` container: keys go there, and its size is set there.
    """

    def __init__(self, store: StoreContext, cid: str, log_fd: int, channel: Channel,
                 terminal: int | None = None) -> None:
        self.store, self.cid, self.log_fd, self.channel = store, cid, log_fd, channel
        self.terminal = terminal
        self.exit_code: int | None = None
        self.detached = threading.Event()
        """Set it to stop following (detach keys): the container keeps running."""

    def _ended(self, timeout: float) -> bool:
        if self.exit_code is not None or self.detached.is_set():
            return True
        if not select.select([self.channel.sock], [], [], timeout)[0]:
            return False
        reply = self.channel.reply()
        if reply is not None and reply.get("exit_code") is not None:
            self.exit_code = int(reply["exit_code"])
        else:
            self.exit_code = int(current(self.store, self.cid)["State"]["ExitCode"])
        return True

    def entries(self) -> Iterator[LogEntry]:
        """Every line the container writes, until it exits."""
        yield from follow_fd(self.log_fd, self._ended, path=self.store.paths.container_log(self.cid))

    def kill(self, sig: int) -> None:
        """Forward a signal (Ctrl-C) to the container, if it still runs."""
        try:
            kill(self.store, self.cid, sig)
        except (ContainerNotRunning, ContainerConflict):
            pass

    def close(self) -> None:
        os.close(self.log_fd)
        self.channel.close()
        if self.terminal is not None:
            os.close(self.terminal)
