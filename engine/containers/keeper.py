"""The store's keeper: the one process that must not die, so it does almost nothing.

Why it exists: the monitor is big (the whole engine, logs, networks, restarts) and
may die — a bug, an OOM kill, ``kill -9``. Containers must not die with it, and
what they write meanwhile must not be lost. So every container init is a child
of the keeper (``process.start(orphan=True)`` forks it from an intermediate that
exits, and the keeper is a subreaper), and the keeper holds a copy of each
container's output pipe read ends (or pty master, or held stdin): a pipe with a
reader left never gives its writer EPIPE, and its buffered bytes wait for the
next monitor.

What it does, and nothing else:

- holds ``monitor.lock`` (its pid in it) for its whole life: a free lock still
  means "no container of this store runs";
- reaps every container init and tells the monitor its exit code (or keeps it
  for the next monitor when none is connected);
- holds the fds the monitor gives it (``hold``), hands them all to a new monitor
  (``list``, over SCM_RIGHTS), closes them when told (``release``);
- starts the monitor as its child, and starts a new one at once when it dies
  while any container is held; exits when the monitor exits with nothing held.

The monitor dies with the keeper (its PR_SET_PDEATHSIG), and so do the containers
(their init arms PR_SET_PDEATHSIG once re-parented here): after a keeper's death
the next berth command finds a free lock, as after a reboot.

It imports nothing of the engine but ``kernel.syscalls`` (ctypes), so its cost is
the interpreter's (~9 MB RSS, once per store) plus a few fds and a dict entry per
container. Protocol: one JSON object per SOCK_SEQPACKET message on a socketpair
made for each monitor, fds alongside.
"""

from __future__ import annotations

import collections
import json
import os
import resource
import selectors
import signal
import socket
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Keeper", "KEEPER_FD_ENV", "main", "raise_fd_limit"]

# The environment variable that tells a monitor which inherited fd is its keeper's socket.
KEEPER_FD_ENV = "BERTH_KEEPER_FD"
# Exit statuses of inits the monitor never claimed (a start that failed before ``hold``) are kept this long.
_UNCLAIMED_SECONDS = 600.0
# A monitor that keeps dying is started again at most this often.
_RESPAWN_INTERVAL = 0.5
_MESSAGE_MAX = 64 * 1024
# Docker's (and the shell's) code for a process killed by signal N: 128 + N.
_SIGNAL_EXIT_BASE = 128
# The monitor lock's name (engine.store.paths.MONITOR_LOCK), repeated so the keeper imports no store code.
_MONITOR_LOCK = "monitor.lock"
_MONITOR_LOG = "monitor.log"
_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@dataclass
class Held:
    """One container the keeper is the parent of."""

    cid: str
    pid: int
    names: list[str]
    """What each fd is to the monitor ("stdout", "stderr", "stdin", "pty")."""
    fds: list[int]
    code: int | None = None
    """Its exit code, once reaped."""
    meta: dict[str, Any] = field(default_factory=dict)
    """What the monitor asked to get back with it (e.g. when it started)."""


class SafeStream:
    """stderr that never raises: a full disk (ENOSPC on monitor.log) must not take a supervisor down."""

    def write(self, text: str) -> int:
        try:
            os.write(2, text.encode("utf-8", "replace"))
        except OSError:
            pass
        return len(text)

    def flush(self) -> None:
        pass


def raise_fd_limit() -> tuple[int, int]:
    """Soft RLIMIT_NOFILE up to the hard limit (as dockerd and conmon do), never above it; the limits before."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (OSError, ValueError):
            pass
    return soft, hard


def exit_code(status: int) -> int:
    """Docker's exit code from a wait status: the code, or 128 + N for a kill by signal N."""
    code = os.waitstatus_to_exitcode(status)
    return _SIGNAL_EXIT_BASE - code if code < 0 else code


class Keeper:
    def __init__(self, root: str) -> None:
        self.root = root
        self.selector = selectors.DefaultSelector()
        self.held: dict[str, Held] = {}
        self.by_pid: dict[int, str] = {}
        self.unclaimed: dict[int, tuple[int, float]] = {}
        self.monitor_pid = 0
        self.monitor_sock: socket.socket | None = None
        self.outbox: collections.deque[tuple[bytes, list[int]]] = collections.deque()
        """Messages for the monitor not sent yet (with dups of their fds): the keeper never blocks on it."""
        self.last_spawn = 0.0
        self.wake_r, wake_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so the wakeup fd hears it
        self.selector.register(self.wake_r, selectors.EVENT_READ, "sigchld")

    # -- the monitor -----------------------------------------------------------

    def spawn_monitor(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
        env = {**os.environ, KEEPER_FD_ENV: "3",
               "PYTHONPATH": os.pathsep.join(filter(None, [_PACKAGE_ROOT, os.environ.get("PYTHONPATH")]))}
        actions = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                   (os.POSIX_SPAWN_DUP2, theirs.fileno(), 3)]
        try:
            log = os.open(os.path.join(self.root, _MONITOR_LOG), os.O_WRONLY | os.O_APPEND | os.O_CREAT
                          | os.O_CLOEXEC, 0o600)
        except OSError:
            log = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
        actions += [(os.POSIX_SPAWN_DUP2, log, 1), (os.POSIX_SPAWN_DUP2, log, 2)]
        try:
            self.monitor_pid = os.posix_spawn(sys.executable, [sys.executable, "-m", "engine.containers.monitor",
                                                                 self.root], env, file_actions=actions)
        finally:
            os.close(log)
            theirs.close()
        self.last_spawn = time.monotonic()
        ours.setblocking(False)
        self.monitor_sock = ours
        self.selector.register(ours, selectors.EVENT_READ, "monitor")

    def _monitor_gone(self, status: int) -> bool:
        """The monitor exited; False when the keeper should exit too (an idle exit, nothing held)."""
        self.monitor_pid = 0
        self._drop_monitor_sock()
        if not self.held:
            return False
        print(f"keeper: the monitor exited ({exit_code(status)}) with {len(self.held)} container(s) held; "
              "starting another", file=sys.stderr)
        return True

    def _drop_monitor_sock(self) -> None:
        if self.monitor_sock is not None:
            self.selector.unregister(self.monitor_sock)
            self.monitor_sock.close()
            self.monitor_sock = None
        while self.outbox:
            for fd in self.outbox.popleft()[1]:
                os.close(fd)

    def _send(self, message: dict[str, Any], fds: list[int] | None = None) -> None:
        """Queue a message (fds are dup'ed: a ``release`` may close ours before it goes) and send what can go."""
        if self.monitor_sock is None:
            return
        self.outbox.append((json.dumps(message).encode(), [os.dup(fd) for fd in fds or ()]))
        self._flush()

    def _flush(self) -> None:
        """Send queued messages without blocking: the monitor may itself be blocked sending to us."""
        sock = self.monitor_sock
        while sock is not None and self.outbox:
            data, fds = self.outbox[0]
            try:
                socket.send_fds(sock, [data], fds) if fds else sock.send(data)
            except BlockingIOError:
                break
            except OSError:  # it is dying: SIGCHLD tells, and the next one gets everything by ``list``
                self._drop_monitor_sock()
                return
            self.outbox.popleft()
            for fd in fds:
                os.close(fd)
        if sock is not None:
            self.selector.modify(sock, selectors.EVENT_READ | (selectors.EVENT_WRITE if self.outbox else 0),
                                 "monitor")

    def _on_monitor(self) -> None:
        assert self.monitor_sock is not None
        while True:
            try:
                data, fds, _flags, _addr = socket.recv_fds(self.monitor_sock, _MESSAGE_MAX, 16,
                                                           socket.MSG_CMSG_CLOEXEC)
            except BlockingIOError:
                return
            except OSError:
                data, fds = b"", []
            if not data:  # its end closed: its SIGCHLD follows
                for fd in fds:
                    os.close(fd)
                self._drop_monitor_sock()
                return
            try:
                self._request(json.loads(data), list(fds))
            except (ValueError, KeyError, TypeError):
                for fd in fds:
                    os.close(fd)

    def _request(self, msg: dict[str, Any], fds: list[int]) -> None:
        op = msg.get("op")
        if op == "hold":
            cid, pid = str(msg["id"]), int(msg["pid"])
            self._release(cid)
            entry = Held(cid, pid, [str(n) for n in msg.get("names", [])], fds, meta=dict(msg.get("meta") or {}))
            self.held[cid] = entry
            self.by_pid[pid] = cid
            if pid in self.unclaimed:  # it exited before the monitor got to say whose it is
                entry.code = self.unclaimed.pop(pid)[0]
                self._send({"op": "exit", "id": cid, "code": entry.code})
        elif op == "release":
            for fd in fds:
                os.close(fd)
            self._release(str(msg["id"]))
        elif op == "list":
            for fd in fds:
                os.close(fd)
            for entry in list(self.held.values()):
                self._send({"op": "held", "id": entry.cid, "pid": entry.pid, "names": entry.names,
                            "code": entry.code, "meta": entry.meta}, entry.fds)
            self._send({"op": "listed"})
        else:
            for fd in fds:
                os.close(fd)

    def _release(self, cid: str) -> None:
        entry = self.held.pop(cid, None)
        if entry is not None:
            self.by_pid.pop(entry.pid, None)
            for fd in entry.fds:
                os.close(fd)

    # -- children --------------------------------------------------------------

    def _reap(self) -> bool:
        """Reap every child that exited; False when the keeper's work is over."""
        try:
            while os.read(self.wake_r, 4096):
                pass
        except BlockingIOError:
            pass
        keep_going = True
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            if pid == self.monitor_pid:
                keep_going = self._monitor_gone(status)
                continue
            code = exit_code(status)
            cid = self.by_pid.get(pid)
            if cid is None:
                self.unclaimed[pid] = (code, time.monotonic())
            else:
                self.held[cid].code = code
                self._send({"op": "exit", "id": cid, "code": code})
        now = time.monotonic()
        for pid, (_code, when) in list(self.unclaimed.items()):
            if now - when > _UNCLAIMED_SECONDS:
                del self.unclaimed[pid]
        return keep_going

    def serve(self) -> None:
        self.spawn_monitor()
        while True:
            timeout = None
            if not self.monitor_pid:
                wait = self.last_spawn + _RESPAWN_INTERVAL - time.monotonic()
                if wait <= 0:
                    try:
                        self.spawn_monitor()
                    except OSError as err:
                        print(f"keeper: cannot start the monitor: {err}", file=sys.stderr)
                        self.last_spawn = time.monotonic()
                    continue
                timeout = wait
            try:
                events = self.selector.select(timeout)
            except InterruptedError:
                continue
            for key, mask in events:
                try:
                    if key.data == "sigchld":
                        if not self._reap():
                            return
                    elif key.data == "monitor" and self.monitor_sock is not None:
                        if mask & selectors.EVENT_WRITE:
                            self._flush()
                        if mask & selectors.EVENT_READ and self.monitor_sock is not None:
                            self._on_monitor()
                except Exception:  # never die of a bug: every container's life hangs on this process
                    traceback.print_exc()


def _daemonize() -> None:
    """Fork twice into a new session, so the keeper is nobody's child that waits on it."""
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGPIPE, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)


def _take_lock(path: str) -> int | None:
    """The monitor lock, or None when another keeper holds it (a checker holds it only for an instant)."""
    import fcntl

    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    for _ in range(80):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            time.sleep(0.025)
    os.close(fd)
    return None


def main(argv: list[str]) -> int:
    """``python -m engine.containers.keeper ROOT``: become the store's keeper, unless one runs."""
    root = os.path.abspath(argv[0])
    _daemonize()
    sys.stderr = SafeStream()  # type: ignore[assignment]
    lock_fd = _take_lock(os.path.join(root, _MONITOR_LOCK))
    if lock_fd is None:
        return 0
    os.ftruncate(lock_fd, 0)
    os.write(lock_fd, f"{os.getpid()}\n".encode())
    from ..kernel import syscalls

    syscalls.prctl(syscalls.PR_SET_CHILD_SUBREAPER, 1)
    raise_fd_limit()
    Keeper(root).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
