"""The per-store container monitor: one small process that runs, logs and reaps every container.

Why one per store and not one per container: a Python process costs ~10 MB,
conmon 2 MB; one monitor shared by all containers costs its fixed ~15 MB once
and then a few kilobytes per container (two pipe buffers, a pidfd, a dict).

- Started on demand by the first ``start`` (``python -m engine.containers.monitor ROOT``,
  double-forked into its own session, so it outlives the command); exits when
  no container runs and no client is connected.
- Holds ``monitor.lock`` (flock) for its whole life: a free lock means "no
  monitor", so any berth command can tell running records are stale.
- Is the parent of every container's init, which gets SIGKILL if the monitor
  dies (PR_SET_PDEATHSIG): a killed monitor never leaves unsupervised
  containers; the next berth command marks them exited, and the next monitor restarts those whose
  restart policy says so, as dockerd does when it starts (see ``recovery`` and ``Monitor.recover``).
- Talks over a unix socket at the store root: one JSON request per connection;
  the connection stays open for requests that wait (``wait``, attached ``start``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import selectors
import signal
import socket
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

from ..errors import BerthError, ContainerConflict, ContainerStartError
from ..runtime import cgroups
from ..runtime.cgroups import Cgroup
from ..runtime.process import EXIT_SETUP_FAILED, ContainerProcess, start
from ..runtime.pty import console_socketpair, receive_console
from ..store.locks import try_lock_path
from ..store.paths import MONITOR_LOCK, MONITOR_SOCKET, MONITOR_SPAWN_LOCK
from .client import socket_path
from .logs import LogWriter
from .records import now_rfc3339
from .recovery import EXIT_KILLED, should_restart
from .spec import process_spec

__all__ = ["Monitor", "socket_path", "main"]

# How long the monitor lingers with nothing to do before it exits.
IDLE_SECONDS = 2.0
_READ_SIZE = 64 * 1024
_REQUEST_MAX = 64 * 1024


@dataclass
class Running:
    """One container the monitor supervises."""

    cid: str
    process: ContainerProcess
    pidfd: int
    mount_id: str
    log: LogWriter
    streams: dict[int, str] = field(default_factory=dict)
    waiters: list[socket.socket] = field(default_factory=list)
    held: tuple[int, ...] = ()
    """fds the monitor keeps open for the container (the write end of an -i stdin nobody attached)."""
    cgroup: Cgroup | None = None
    network: Any = None
    """engine.network.supervise.ContainerNet: its netns and published-port listeners."""


class Monitor:
    """The event loop: accept requests, copy output to logs, reap exits."""

    def __init__(self, root: str) -> None:
        from ..engine import Engine

        self.engine = Engine(root)
        self.selector = selectors.DefaultSelector()
        self.running: dict[str, Running] = {}
        self.clients: set[socket.socket] = set()
        self.listener: socket.socket | None = None

    # -- lifetime ------------------------------------------------------------

    def listen(self) -> None:
        dir_fd = os.open(self.engine.root, os.O_PATH | os.O_CLOEXEC)
        try:
            path = socket_path(dir_fd)
            if os.path.exists(path):
                os.unlink(path)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
            sock.bind(path)
            os.chmod(path, 0o600)
        finally:
            os.close(dir_fd)
        sock.listen(128)
        sock.setblocking(False)
        self.listener = sock
        self.selector.register(sock, selectors.EVENT_READ, ("accept", None))

    def serve(self) -> None:
        idle_since = time.monotonic()
        while True:
            for key, _ in self.selector.select(timeout=0.5):
                self._handle(key)
            if self.running or self.clients:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since > IDLE_SECONDS and self._try_exit():
                return

    def _handle(self, key: selectors.SelectorKey) -> None:
        """One event; a bug in handling it is logged, never allowed to take every container down with us."""
        kind, data = key.data
        try:
            getattr(self, "_on_" + kind)(key.fileobj, data)
        except Exception:  # the monitor's death would SIGKILL every container: log and carry on
            traceback.print_exc(file=sys.stderr)
            sys.stderr.flush()

    def _try_exit(self) -> bool:
        """Stop listening and exit, unless a client connected meanwhile.

        The socket is unlinked first (under the spawn lock), so no client can connect after
        the check; one that connected before it is served and the monitor listens again.
        """
        from ..store.locks import get_lock

        assert self.listener is not None
        with get_lock(self.engine.paths.monitor_file(MONITOR_SPAWN_LOCK)):
            os.unlink(self.engine.paths.monitor_file(MONITOR_SOCKET))
            pending = []
            while True:
                try:
                    pending.append(self.listener.accept()[0])
                except BlockingIOError:
                    break
            self.selector.unregister(self.listener)
            self.listener.close()
            if not pending:
                return True
            self.listen()
        for conn in pending:
            self._on_client(conn)
        return False

    # -- requests ------------------------------------------------------------

    def _on_accept(self, sock: socket.socket, _: Any) -> None:
        try:
            conn, _addr = sock.accept()
        except BlockingIOError:
            return
        self._on_client(conn)

    def _on_client(self, conn: socket.socket) -> None:
        conn.setblocking(True)
        conn.settimeout(2.0)
        try:
            request, fds = _recv_request(conn)
        except (OSError, ValueError):
            conn.close()
            return
        self.clients.add(conn)
        self.selector.register(conn, selectors.EVENT_READ, ("hangup", None))
        try:
            self._dispatch(conn, request, fds)
        finally:
            for fd in fds:
                os.close(fd)

    def _dispatch(self, conn: socket.socket, request: dict[str, Any], fds: list[int]) -> None:
        op, cid = request.get("op"), str(request.get("id", ""))
        if op == "start":
            size = request.get("console_size")
            self._request_start(conn, cid, fds[0] if fds else None, bool(request.get("wait")),
                                (int(size[0]), int(size[1])) if size else None)
        elif op == "wait":
            if cid in self.running:
                self.running[cid].waiters.append(conn)
            else:
                self._reply(conn, {"exit_code": self._recorded_exit(cid)}, close=True)
        elif op == "attach":
            self._request_attach(conn, cid)
        elif op in ("pause", "unpause"):
            self._request_pause(conn, cid, op == "pause")
        elif op == "ping":
            self._reply(conn, {"ok": True, "pid": os.getpid(), "running": len(self.running)}, close=True)
        else:
            self._reply(conn, {"error": f"unknown request {op!r}"}, close=True)

    def _request_start(self, conn: socket.socket, cid: str, stdin: int | None, wait: bool,
                       console_size: tuple[int, int] | None = None) -> None:
        try:
            pid = self.start_container(cid, stdin, console_size)
        except Exception as err:  # OSError too: the client gets a message, the monitor lives on
            message = str(err) if isinstance(err, BerthError) else f"cannot start the container: {err}"
            self._reply(conn, {"error": message, "exit_code": getattr(err, "exit_code", EXIT_SETUP_FAILED)},
                        close=True)
            return
        self._reply(conn, {"ok": True, "pid": pid}, close=not wait)
        if wait:
            self.running[cid].waiters.append(conn)

    def _request_attach(self, conn: socket.socket, cid: str) -> None:
        """Hand the client the container's pty master (``-t``): it writes keys and sets the size there."""
        run = self.running.get(cid)
        master = next(iter(run.streams), None) if run is not None and run.log.raw else None
        if master is None:
            self._reply(conn, {"error": f"Container {cid} is not running with a terminal"}, close=True)
            return
        try:
            socket.send_fds(conn, [json.dumps({"ok": True}).encode() + b"\n"], [master])
        except OSError:
            pass
        self._drop_client(conn)

    def _request_pause(self, conn: socket.socket, cid: str, frozen: bool) -> None:
        """Freeze or thaw every process of the container (the freezer cgroup), and record it."""
        run = self.running.get(cid)
        if run is None or run.cgroup is None:
            self._reply(conn, {"error": f"Container {cid} is not running"}, close=True)
            return
        try:
            run.cgroup.freeze(frozen)
        except (OSError, KeyError) as err:
            self._reply(conn, {"error": f"cannot {'pause' if frozen else 'unpause'} {cid[:12]}: {err}"}, close=True)
            return
        status = "paused" if frozen else "running"
        self.engine.containers.update(cid, lambda c: c["State"].update(Paused=frozen, Status=status))
        self._reply(conn, {"ok": True}, close=True)

    def _recorded_exit(self, cid: str) -> int | None:
        try:
            return int(self.engine.containers.load(cid)["State"]["ExitCode"])
        except BerthError:
            return None

    def _reply(self, conn: socket.socket, message: dict[str, Any], close: bool) -> None:
        try:
            conn.sendall(json.dumps(message).encode() + b"\n")
        except OSError:
            close = True
        if close:
            self._drop_client(conn)

    def _on_hangup(self, conn: socket.socket, _: Any) -> None:
        """A waiting client went away (or sent more than it should): forget it."""
        self._drop_client(conn)

    def _drop_client(self, conn: socket.socket) -> None:
        if conn in self.clients:
            self.clients.discard(conn)
            self.selector.unregister(conn)
            for run in self.running.values():
                if conn in run.waiters:
                    run.waiters.remove(conn)
        conn.close()

    # -- containers ----------------------------------------------------------

    def start_container(self, cid: str, stdin: int | None, console_size: tuple[int, int] | None = None) -> int:
        """Mount the root, start the init, record it running; on failure record why and unmount."""
        from .remove import mount_id_of

        records = self.engine.containers
        with records.locked(cid):
            config, host = records.load(cid), records.load_host(cid)
            if config["State"]["Running"] or cid in self.running:
                raise ContainerConflict(f"container {cid[:12]} is already running")
            mount_id = mount_id_of(self.engine, cid)
            rootfs = self.engine.rwlayers.mount(mount_id)
            cgroup = _make_cgroup(self.engine.paths.root, cid, host)
            network = None
            try:
                from .volumes import populate

                populate(config, rootfs)  # fresh volumes take the image's files before anything runs
                network = self._start_network(cid, config, host)
                run = self._spawn(cid, config, host, rootfs, mount_id, stdin, cgroup, console_size,
                                  network.netns_path if network else "")
                run.network = network
            except BaseException as err:
                if network is not None:
                    network.stop()
                    _clear_network_settings(config)
                if cgroup is not None:
                    cgroup.remove()
                self.engine.rwlayers.unmount(mount_id)
                _record_failure(config, err)
                records.save(cid, config)
                raise
            _record_started(config, run.process.pid)
            records.save(cid, config)
        self.running[cid] = run
        self._event(cid, "start")
        return run.process.pid

    def _start_network(self, cid: str, config: dict[str, Any], host: dict[str, Any]) -> Any:
        """Bridge/container modes: the netns to join and the port listeners (None for none/host: no pyroute2)."""
        mode = str(host.get("NetworkMode", "none"))
        if mode in ("none", "host"):
            return None
        from ..network.supervise import start_network

        return start_network(self.engine, cid, config, host, self.selector, lambda callback: ("net", callback))

    def _on_net(self, sock: Any, callback: Any) -> None:
        """A published port's listener or connection is ready (engine.network.ports)."""
        callback(sock)

    def _spawn(self, cid: str, config: dict[str, Any], host: dict[str, Any], rootfs: str, mount_id: str,
               stdin: int | None, cgroup: Cgroup | None, console_size: tuple[int, int] | None = None,
               netns_path: str = "") -> Running:
        tty = bool(config["Config"].get("Tty"))
        streams, child_fds, held = _stdio_for(config, stdin, tty)
        # -t: the container makes its pty in its own devpts and sends the master back (runc's console socket).
        ours, theirs = console_socketpair() if tty else (None, None)
        try:
            spec = process_spec(config, host, rootfs, stdin=child_fds[0], stdout=child_fds[1],
                                stderr=child_fds[2], cgroup_procs=cgroup.procs_files() if cgroup else (),
                                netns_path=netns_path)
            process = start(dataclasses.replace(spec, terminal=tty, console_socket=theirs, console_size=console_size))
            if ours is not None:
                sock, ours = ours, None
                streams[_take_console(process, sock)] = "stdout"
        except BaseException:
            for fd in (*streams, *held, *([ours] if ours is not None else [])):
                os.close(fd)
            raise
        finally:
            for fd in set(child_fds):
                if fd != stdin:
                    os.close(fd)
            if theirs is not None:
                os.close(theirs)
        run = Running(cid, process, os.pidfd_open(process.pid), mount_id, _log_writer(config, host, tty),
                      held=held, cgroup=cgroup)
        for fd, stream in streams.items():
            os.set_blocking(fd, False)
            run.streams[fd] = stream
            self.selector.register(fd, selectors.EVENT_READ, ("output", run))
        self.selector.register(run.pidfd, selectors.EVENT_READ, ("exit", run))
        return run

    def _on_output(self, fd: int, run: Running) -> None:
        self._read_stream(run, fd)

    def _read_stream(self, run: Running, fd: int) -> bool:
        """Copy what is buffered in one pipe to the log; False once the stream has ended."""
        while True:
            try:
                data = os.read(fd, _READ_SIZE)
            except BlockingIOError:
                return True
            except OSError:  # EIO: a pty master once every slave is closed
                data = b""
            if not data:
                self.selector.unregister(fd)
                os.close(fd)
                del run.streams[fd]
                return False
            run.log.feed(run.streams[fd], data, time.time())

    def _on_exit(self, pidfd: int, run: Running) -> None:
        """Reap, drain the output (every writer died with the pid namespace), record, unmount, notify."""
        code = run.process.wait()
        for fd in list(run.streams):
            if self._read_stream(run, fd):
                self.selector.unregister(fd)
                os.close(fd)
        run.log.flush(time.time())
        run.log.close()
        for fd in run.held:
            os.close(fd)
        self.selector.unregister(pidfd)
        os.close(pidfd)
        del self.running[run.cid]
        if run.network is not None:
            run.network.stop()
        self.engine.rwlayers.unmount(run.mount_id)
        oom = run.cgroup.oom_killed() if run.cgroup else False
        if run.cgroup is not None:
            run.cgroup.remove()
        config = self._record_exit(run.cid, code, oom)
        self._event(run.cid, "oom" if oom else "die")
        for conn in run.waiters:
            self._reply(conn, {"exit_code": code}, close=True)
        if config is not None:
            self._after_exit(run.cid, config, code)

    def _record_exit(self, cid: str, code: int, oom: bool) -> dict[str, Any] | None:
        def change(config: dict[str, Any]) -> None:
            state = config["State"]
            state.update(Status="exited", Running=False, Paused=False, Pid=0, ExitCode=code,
                         FinishedAt=now_rfc3339(), OOMKilled=oom)
            _clear_network_settings(config)

        try:
            return self.engine.containers.update(cid, change)
        except BerthError:
            return None

    def _after_exit(self, cid: str, config: dict[str, Any], code: int) -> None:
        """--rm, or a restart policy (unless ``rm -f`` removed the container as it exited)."""
        try:
            host = self.engine.containers.load_host(cid)
        except BerthError:
            return
        if host.get("AutoRemove"):
            from .remove import remove_container_files

            remove_container_files(self.engine, cid, volumes=True)  # --rm takes anonymous volumes, as Docker's
            self._event(cid, "destroy", str(config.get("Name", "")).lstrip("/"))
        elif should_restart(config, host, code):
            self.engine.containers.update(cid, lambda c: c.update(RestartCount=c.get("RestartCount", 0) + 1))
            try:
                self.start_container(cid, None)
            except Exception as err:
                print(f"restart of {cid[:12]} failed: {err}", file=sys.stderr, flush=True)

    def _event(self, cid: str, action: str, name: str = "") -> None:
        """Tell every berth process (``events``, the app) what changed; a journal failure is not the container's."""
        try:
            if not name:
                name = str(self.engine.containers.load(cid).get("Name", "")).lstrip("/")
            self.engine.journal.append("container", action, cid, name)
        except (BerthError, OSError):
            pass

    def recover(self) -> None:
        """Records that say running belong to a dead monitor: their containers died with it.

        Then, as dockerd does when it starts, the restart policies decide: ``always``,
        ``unless-stopped`` and ``on-failure`` (137 is a failure) start again under us, ``--rm`` ones go;
        and after a monitor's death or a reboot, ``always`` ones a user stopped come back too.
        """
        from .recovery import daemon_start_candidates, mark_dead, rebooted, record_boot

        stale = [c["ID"] for c in self.engine.containers.all() if c["State"].get("Running")]
        for cid in stale:
            mark_dead(self.engine, cid)
            self._event(cid, "die")
            try:
                self._after_exit(cid, self.engine.containers.load(cid), EXIT_KILLED)
            except BerthError:
                continue
        if stale or rebooted(self.engine.paths):
            for cid in daemon_start_candidates(self.engine, set(stale)):
                try:
                    self.start_container(cid, None)
                except Exception as err:  # one container's failure must not stop the others' recovery
                    print(f"restart of {cid[:12]} failed: {err}", file=sys.stderr, flush=True)
        record_boot(self.engine.paths)


def _clear_network_settings(config: dict[str, Any]) -> None:
    """A stopped container shows no sandbox and no published ports."""
    ns = config.get("NetworkSettings")
    if isinstance(ns, dict) and ns.get("SandboxKey"):
        from ..network.endpoint import clear_runtime_settings

        clear_runtime_settings(config)


def _log_writer(config: dict[str, Any], host: dict[str, Any], tty: bool) -> LogWriter:
    """The json-file writer with the container's ``--log-opt max-size``/``max-file``."""
    from .options import parse_size

    opts = (host.get("LogConfig") or {}).get("Config") or {}
    return LogWriter(config["LogPath"], raw=tty, max_size=parse_size(opts.get("max-size", "0")),
                     max_file=int(opts.get("max-file", "1")))


def _make_cgroup(root: str, cid: str, host: dict[str, Any]) -> Cgroup | None:
    """The container's cgroup with its limits, made before the container exists (None: no cgroupfs here)."""
    cgroup = cgroups.for_container(cid, root)
    if cgroup is not None:
        cgroup.create(cgroups.Limits(memory=int(host.get("Memory") or 0), nano_cpus=int(host.get("NanoCpus") or 0),
                                     pids=int(host.get("PidsLimit") or 0)))
    return cgroup


def _stdio_for(config: dict[str, Any], given: int | None,
               tty: bool) -> tuple[dict[int, str], tuple[int, int, int], tuple[int, ...]]:
    """(fds the monitor reads → stream name, the container's fds 0-2, fds the monitor holds open).

    ``-t``: /dev/null for now; the container replaces it with its own pty, whose master ``_spawn`` reads as stdout.
    Otherwise two pipes, and stdin from the client, from /dev/null, or for ``-i`` without a
    client a pipe kept open, so ``run -di IMG sh`` waits for input (Docker holds it too).
    """
    if tty:
        null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)  # replaced by the pty inside the container
        return {}, (null, null, null), ()
    out_r, out_w = os.pipe2(os.O_CLOEXEC)
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    held: tuple[int, ...] = ()
    if given is not None:
        stdin = given
    elif config["Config"].get("OpenStdin"):
        stdin, write_end = os.pipe2(os.O_CLOEXEC)
        held = (write_end,)
    else:
        stdin = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    return {out_r: "stdout", err_r: "stderr"}, (stdin, out_w, err_w), held


def _take_console(process: ContainerProcess, sock: int) -> int:
    """The pty master the container's init sent before exec; without one the container cannot run, so kill it."""
    try:
        return receive_console(sock)
    except BaseException:
        process.kill()
        process.wait()
        raise


def _record_started(config: dict[str, Any], pid: int) -> None:
    config["State"].update(Status="running", Running=True, Paused=False, Pid=pid, ExitCode=0, Error="",
                           StartedAt=now_rfc3339(), OOMKilled=False)
    config["HasBeenStartedBefore"] = True
    config["HasBeenManuallyStopped"] = False


def _record_failure(config: dict[str, Any], err: BaseException) -> None:
    code = err.exit_code if isinstance(err, ContainerStartError) else EXIT_SETUP_FAILED
    config["State"].update(ExitCode=code, Error=str(err))


def _recv_request(conn: socket.socket) -> tuple[dict[str, Any], list[int]]:
    """One JSON line, with any fds passed alongside it (SCM_RIGHTS)."""
    data, fds, _flags, _addr = socket.recv_fds(conn, _REQUEST_MAX, 4)
    while not data.endswith(b"\n"):
        more = conn.recv(_REQUEST_MAX)
        if not more:
            break
        data += more
    request = json.loads(data)
    if not isinstance(request, dict):
        raise ValueError("request must be an object")
    return request, list(fds)


def _daemonize() -> None:
    """Fork twice into a new session, so the monitor is nobody's child that waits on it."""
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)


def _take_monitor_lock(path: str) -> int | None:
    """The monitor lock, or None when another monitor holds it; a checker holds it only for an instant."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))
    for _ in range(40):
        fd = try_lock_path(path)
        if fd is not None:
            return fd
        time.sleep(0.025)
    return None


def main(argv: list[str]) -> int:
    """``python -m engine.containers.monitor ROOT``: become the store's monitor, unless one runs."""
    root = os.path.abspath(argv[0])
    _daemonize()
    lock_fd = _take_monitor_lock(os.path.join(root, MONITOR_LOCK))
    if lock_fd is None:
        return 0
    os.ftruncate(lock_fd, 0)
    os.write(lock_fd, f"{os.getpid()}\n".encode())
    monitor = Monitor(root)
    monitor.recover()
    monitor.listen()
    monitor.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
