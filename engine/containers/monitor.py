"""The per-store container monitor: one process that runs, logs and restarts every container.

Why one per store and not one per container: a Python process costs ~10 MB,
conmon 2 MB; one monitor shared by all containers costs its fixed ~15 MB once
and then a few kilobytes per container (two pipe buffers, a dict, three fds).

Why it is not a single point of failure: it is the child of the store's keeper
(``keeper``), a tiny process that is the parent (subreaper) of every container
init and holds a copy of each container's output pipes and pty. A monitor that
dies (a bug, ``kill -9``) kills no container and loses no output; the keeper
starts another within half a second, which gets every held container back over
SCM_RIGHTS (``recover``): it goes on reading the same pipes, re-opens published
ports, and records the exit codes the keeper reaped meanwhile.

- Started on demand by the first ``start`` (``python -m engine.containers.keeper ROOT``,
  which double-forks into its own session and starts us); exits when no container
  runs, no restart is pending and no client is connected, and the keeper with it.
- ``monitor.lock`` is held by the keeper: a free lock means "no container runs", so
  any berth command can tell running records are stale (the keeper's death kills
  every container, as a reboot does; see ``recovery``).
- Output is copied by a thread of its own (``drain``): slow work here (mounts, volume
  copies, netlink, restarts) never stops a container's writes.
- Restart policies back off as Docker's: 100 ms, doubling, reset once a run lasted 10 s.
- Talks over a unix socket at the store root: one JSON request per connection;
  the connection stays open for requests that wait (``wait``, attached ``start``).
"""

from __future__ import annotations

import dataclasses
import heapq
import json
import os
import queue
import selectors
import signal
import socket
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

from ..errors import BerthError, ContainerConflict, ContainerStartError, StoreFull
from ..runtime import cgroups
from ..runtime.cgroups import Cgroup
from ..runtime.process import EXIT_SETUP_FAILED, ContainerProcess, empty_stdin, start
from ..runtime.pty import console_socketpair, receive_console
from ..store.paths import MONITOR_SOCKET, MONITOR_SPAWN_LOCK
from .client import socket_path
from .drain import Drainer, empty_wake_pipe
from .keeper import KEEPER_FD_ENV, SafeStream, raise_fd_limit
from .logs import LogWriter
from .records import now_rfc3339
from .recovery import EXIT_KILLED, should_restart
from .spec import process_spec

__all__ = ["Monitor", "socket_path", "main", "restart_delay"]

# How long the monitor lingers with nothing to do before it exits.
IDLE_SECONDS = 2.0
_REQUEST_MAX = 64 * 1024
_KEEPER_MESSAGE_MAX = 64 * 1024
# Docker's restart manager: the first delay, its growth, its cap, and the run that resets it.
RESTART_DELAY_FIRST = 0.1
RESTART_DELAY_MAX = 60.0
RESTART_RESET_AFTER = 10.0


def restart_delay(previous: float, ran_seconds: float) -> float:
    """The wait before the next restart: 100 ms, doubling up to a minute; back to 100 ms after a 10 s run."""
    if ran_seconds >= RESTART_RESET_AFTER or previous <= 0:
        return RESTART_DELAY_FIRST
    return min(previous * 2, RESTART_DELAY_MAX)


@dataclass
class Running:
    """One container the monitor supervises."""

    cid: str
    process: ContainerProcess
    mount_id: str
    log: LogWriter
    streams: dict[int, str] = field(default_factory=dict)
    """Output fds → stream name; owned by the drain thread once added."""
    master: int = -1
    """The pty master (``-t``), also in ``streams``: handed to ``attach``."""
    waiters: list[socket.socket] = field(default_factory=list)
    cgroup: Cgroup | None = None
    network: Any = None
    """engine.network.supervise.ContainerNet: its netns and published-port listeners."""
    started: float = field(default_factory=time.monotonic)
    code: int | None = None
    """Its exit code, once the keeper reaped it."""


class Monitor:
    """The event loop: accept requests, start containers, record exits, run restart timers."""

    def __init__(self, root: str, keeper: socket.socket) -> None:
        from ..context import StoreContext

        self.store = StoreContext(root)
        self.selector = selectors.DefaultSelector()
        self.running: dict[str, Running] = {}
        self.clients: set[socket.socket] = set()
        self.listener: socket.socket | None = None
        self.keeper = keeper
        self.timers: list[tuple[float, int, str]] = []
        """(when, sequence, container id): restarts waiting for their backoff, a heap."""
        self._timer_seq = 0
        self._record_exit_failed = False
        self._last_retry = 0.0
        self.unrecorded: dict[str, tuple[int, bool, float]] = {}
        """Exits whose record could not be written yet (a full disk): (code, oom, run time), tried again."""
        self.backoff: dict[str, float] = {}
        """The last restart delay of each container, doubling while it keeps failing fast."""
        self._drained: queue.SimpleQueue[Running] = queue.SimpleQueue()
        self._wake_r, self._wake_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self.selector.register(self._wake_r, selectors.EVENT_READ, ("drained", None))
        self.drainer = Drainer(self._on_drain_done)
        self.drainer.start()

    # -- lifetime ------------------------------------------------------------

    def listen(self) -> None:
        dir_fd = os.open(self.store.root, os.O_PATH | os.O_CLOEXEC)
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
        self.keeper.setblocking(False)
        self.selector.register(self.keeper, selectors.EVENT_READ, ("keeper", None))
        idle_since = time.monotonic()
        while True:
            timeout = 0.5
            if self.timers:
                timeout = max(0.0, min(timeout, self.timers[0][0] - time.monotonic()))
            for key, _ in self.selector.select(timeout=timeout):
                self._handle(key)
            self._run_timers()
            if self.unrecorded:
                self._record_again()
            if self.running or self.clients or self.timers or self.unrecorded:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since > IDLE_SECONDS and self._try_exit():
                return

    def _handle(self, key: selectors.SelectorKey) -> None:
        """One event; a bug in handling it is logged, never allowed to take the monitor down."""
        kind, data = key.data
        try:
            getattr(self, "_on_" + kind)(key.fileobj, data)
        except Exception:
            traceback.print_exc(file=sys.stderr)

    def _try_exit(self) -> bool:
        """Stop listening and exit, unless a client connected meanwhile.

        The socket is unlinked first (under the spawn lock), so no client can connect after
        the check; one that connected before it is served and the monitor listens again.
        """
        from ..store.locks import get_lock

        assert self.listener is not None
        with get_lock(self.store.paths.monitor_file(MONITOR_SPAWN_LOCK)):
            os.unlink(self.store.paths.monitor_file(MONITOR_SOCKET))
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

    # -- the keeper ----------------------------------------------------------

    def _to_keeper(self, message: dict[str, Any], fds: list[int] | tuple[int, ...] = ()) -> None:
        data = json.dumps(message).encode()
        blocking = self.keeper.getblocking()
        self.keeper.setblocking(True)
        try:
            if fds:
                socket.send_fds(self.keeper, [data], list(fds))
            else:
                self.keeper.send(data)
        finally:
            self.keeper.setblocking(blocking)

    def _from_keeper(self) -> tuple[dict[str, Any], list[int]] | None:
        """The keeper's next message (None: none buffered); a closed keeper means it died, and so must we."""
        try:
            data, fds, _flags, _addr = socket.recv_fds(self.keeper, _KEEPER_MESSAGE_MAX, 16,
                                                       socket.MSG_CMSG_CLOEXEC)
        except BlockingIOError:
            return None
        if not data:
            print("monitor: the keeper is gone; exiting", file=sys.stderr)
            os._exit(1)
        return json.loads(data), list(fds)

    def _on_keeper(self, sock: socket.socket, _: Any) -> None:
        while (got := self._from_keeper()) is not None:
            message, fds = got
            for fd in fds:
                os.close(fd)
            if message.get("op") == "exit":
                run = self.running.get(str(message.get("id")))
                if run is not None and run.code is None:
                    run.code = int(message["code"])
                    run.process.exit_code = run.code
                    self.drainer.finish(run)

    def _held(self) -> list[tuple[dict[str, Any], list[int]]]:
        """Every container the keeper holds, with its fds: what a dead monitor left running."""
        self._to_keeper({"op": "list"})
        self.keeper.setblocking(True)
        entries = []
        try:
            while True:
                got = self._from_keeper()
                assert got is not None
                message, fds = got
                if message.get("op") == "listed":
                    return entries
                if message.get("op") == "held":
                    entries.append((message, fds))
                else:
                    for fd in fds:
                        os.close(fd)
        finally:
            self.keeper.setblocking(False)

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
        if run is None or run.master < 0 or run.code is not None:
            self._reply(conn, {"error": f"Container {cid} is not running with a terminal"}, close=True)
            return
        try:
            socket.send_fds(conn, [json.dumps({"ok": True}).encode() + b"\n"], [run.master])
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
        self.store.records.update(cid, lambda c: c["State"].update(Paused=frozen, Status=status))
        self._reply(conn, {"ok": True}, close=True)

    def _recorded_exit(self, cid: str) -> int | None:
        try:
            return int(self.store.records.load(cid)["State"]["ExitCode"])
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

        records = self.store.records
        with records.locked(cid):
            config, host = records.load(cid), records.load_host(cid)
            if config["State"]["Running"] or cid in self.running:
                raise ContainerConflict(f"container {cid[:12]} is already running")
            mount_id = mount_id_of(self.store, cid)
            rootfs = self.store.rwlayers.mount(mount_id)
            cgroup = _make_cgroup(self.store.paths.root, cid, host)
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
                self.store.rwlayers.unmount(mount_id)
                _record_failure(config, err)
                records.save(cid, config)
                raise
            _record_started(config, run.process.pid)
            try:
                records.save(cid, config)
            except BaseException:
                run.process.kill()  # a container nobody can see is worse than one that did not start
                self.running[cid] = run
                self.drainer.add(run)
                raise
        self.running[cid] = run
        self.drainer.add(run)
        self._event(cid, "start")
        return run.process.pid

    def _start_network(self, cid: str, config: dict[str, Any], host: dict[str, Any]) -> Any:
        """Bridge/container modes: the netns to join and the port listeners (None for none/host: no pyroute2)."""
        mode = str(host.get("NetworkMode", "none"))
        if mode in ("none", "host"):
            return None
        from ..network.supervise import start_network

        return start_network(self.store, cid, config, host, self.selector, lambda callback: ("net", callback))

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
        master = -1
        process: ContainerProcess | None = None
        try:
            spec = process_spec(config, host, rootfs, stdin=child_fds[0], stdout=child_fds[1],
                                stderr=child_fds[2], cgroup_procs=cgroup.procs_files() if cgroup else (),
                                netns_path=netns_path)
            process = start(dataclasses.replace(spec, terminal=tty, console_socket=theirs, console_size=console_size),
                            orphan=True)
            if ours is not None:
                sock, ours = ours, None
                master = _take_console(process, sock)
                streams[master] = "stdout"
            # The keeper keeps a copy of every end the container's life depends on, in case we die.
            names = [("pty" if fd == master else streams[fd]) for fd in streams] + ["stdin"] * len(held)
            self._to_keeper({"op": "hold", "id": cid, "pid": process.pid, "names": names,
                             "meta": {"started": time.time()}}, [*streams, *held])
        except BaseException:
            if process is not None:
                process.kill()  # started, but the keeper does not hold it: nobody could supervise it
            for fd in (*streams, *held, *([ours] if ours is not None else [])):
                os.close(fd)
            raise
        finally:
            for fd in set(child_fds):
                if fd != stdin:
                    os.close(fd)
            if theirs is not None:
                os.close(theirs)
        for fd in held:  # the keeper's copy keeps ``run -di IMG sh`` waiting for input
            os.close(fd)
        return Running(cid, process, mount_id, _log_writer(config, host, tty), streams=streams, master=master,
                       cgroup=cgroup)

    def _on_drained(self, _fd: int, _: Any) -> None:
        empty_wake_pipe(self._wake_r)
        while True:
            try:
                run = self._drained.get_nowait()
            except queue.Empty:
                return
            self._finish_exit(run)

    def _on_drain_done(self, run: Running) -> None:
        """Called on the drain thread: hand the rest of the exit back to the main loop."""
        self._drained.put(run)
        try:
            os.write(self._wake_w, b"\0")
        except BlockingIOError:
            pass

    def _finish_exit(self, run: Running) -> None:
        """Its output is all in the log: release it, record the exit, unmount, notify, apply the policy."""
        code = run.code if run.code is not None else EXIT_KILLED
        self.running.pop(run.cid, None)
        if run.master >= 0:
            os.close(run.master)  # the drain thread leaves it open for ``attach``
            run.master = -1
        _quietly(self._to_keeper, {"op": "release", "id": run.cid})
        if run.network is not None:
            _quietly(run.network.stop)
        _quietly(self.store.rwlayers.unmount, run.mount_id)
        oom = bool(_quietly(run.cgroup.oom_killed)) if run.cgroup else False
        if run.cgroup is not None:
            _quietly(run.cgroup.remove)
        config = self._record_exit(run.cid, code, oom)
        self._event(run.cid, "oom" if oom else "die")  # before the waiters hear of it: they may ``rm`` at once
        for conn in run.waiters:
            self._reply(conn, {"exit_code": code}, close=True)
        if config is None:
            if self._record_exit_failed:
                self.unrecorded[run.cid] = (code, oom, time.monotonic() - run.started)
            return
        self._after_exit(run.cid, config, code, time.monotonic() - run.started)

    def _record_again(self) -> None:
        """Exits a full disk kept out of their records: written as soon as there is room (at most twice a second)."""
        now = time.monotonic()
        if now - self._last_retry < 0.5:
            return
        self._last_retry = now
        for cid, (code, oom, ran) in list(self.unrecorded.items()):
            config = self._record_exit(cid, code, oom)
            if config is None and self._record_exit_failed:
                continue
            del self.unrecorded[cid]
            if config is not None:
                self._after_exit(cid, config, code, ran)

    def _record_exit(self, cid: str, code: int, oom: bool) -> dict[str, Any] | None:
        def change(config: dict[str, Any]) -> None:
            state = config["State"]
            state.update(Status="exited", Running=False, Paused=False, Pid=0, ExitCode=code,
                         FinishedAt=now_rfc3339(), OOMKilled=oom)
            _clear_network_settings(config)

        self._record_exit_failed = False
        try:
            return self.store.records.update(cid, change)
        except (StoreFull, OSError) as err:  # a full disk: the record says running until a retry works
            if cid not in self.unrecorded:
                print(f"monitor: cannot record the exit of {cid[:12]} yet: {err}", file=sys.stderr)
            self._record_exit_failed = True
            return None
        except BerthError:  # removed meanwhile (``rm -f``)
            return None

    def _after_exit(self, cid: str, config: dict[str, Any], code: int, ran: float | None = None) -> None:
        """--rm, or a restart policy (unless ``rm -f`` removed the container as it exited).

        ``ran``: how long the run lasted, for the backoff; None restarts at once (a dead monitor's
        containers, as dockerd's own start does).
        """
        try:
            host = self.store.records.load_host(cid)
        except BerthError:
            return
        if host.get("AutoRemove"):
            from .remove import remove_container_files

            remove_container_files(self.store, cid, volumes=True)  # --rm takes anonymous volumes, as Docker's
            self._event(cid, "destroy", str(config.get("Name", "")).lstrip("/"))
        elif should_restart(config, host, code):
            if ran is None:
                self._restart(cid, code)
                return
            delay = self.backoff[cid] = restart_delay(self.backoff.get(cid, 0.0), ran)
            self._timer_seq += 1
            heapq.heappush(self.timers, (time.monotonic() + delay, self._timer_seq, cid))
        else:
            self.backoff.pop(cid, None)

    def _run_timers(self) -> None:
        now = time.monotonic()
        while self.timers and self.timers[0][0] <= now:
            _, _, cid = heapq.heappop(self.timers)
            try:
                config, host = self.store.records.load(cid), self.store.records.load_host(cid)
            except BerthError:
                continue  # removed meanwhile
            code = int(config["State"].get("ExitCode") or 0)
            if config["State"].get("Running") or cid in self.running or not should_restart(config, host, code):
                continue  # started or stopped by a user meanwhile
            self._restart(cid, code)

    def _restart(self, cid: str, code: int) -> None:
        try:
            self.store.records.update(cid, lambda c: c.update(RestartCount=c.get("RestartCount", 0) + 1))
            self.start_container(cid, None)
        except Exception as err:
            print(f"restart of {cid[:12]} failed: {err}", file=sys.stderr)

    def _event(self, cid: str, action: str, name: str = "") -> None:
        """Tell every berth process (``events``, the app) what changed; a journal failure is not the container's."""
        try:
            if not name:
                name = str(self.store.records.load(cid).get("Name", "")).lstrip("/")
            self.store.journal.append("container", action, cid, name)
        except (BerthError, OSError):
            pass

    # -- after a monitor's death ---------------------------------------------

    def recover(self) -> None:
        """Take back what the keeper holds; records that say running with nothing held died with an old keeper.

        Held containers are adopted (their pipes, pty, ports, cgroup; an exit reaped meanwhile is
        recorded now). For the dead ones, as dockerd does when it starts, the restart policies decide:
        ``always``, ``unless-stopped`` and ``on-failure`` (137 is a failure) start again, ``--rm`` ones go;
        and after a keeper's death or a reboot, ``always`` ones a user stopped come back too.
        """
        from .recovery import daemon_start_candidates, mark_dead, rebooted, record_boot

        held = self._held()
        # Read once: with a thousand containers mountinfo has a thousand overlays, and every adoption needs it.
        # Only the cgroup mounts matter to ``cgroups.for_container``.
        tables = ("\n".join(line for line in _read_text("/proc/self/mountinfo").splitlines() if " - cgroup" in line),
                  _read_text("/proc/self/cgroup")) if held else ("", "")
        for message, fds in held:
            try:
                self._adopt(message, fds, tables)
            except Exception:
                traceback.print_exc(file=sys.stderr)
        stale = [c["ID"] for c in self.store.records.all()
                 if c["State"].get("Running") and c["ID"] not in self.running]
        for cid in stale:
            try:
                mark_dead(self.store, cid)
            except BerthError as err:  # a full disk: ``reconcile`` shows it exited meanwhile
                print(f"monitor: cannot record {cid[:12]} as exited: {err}", file=sys.stderr)
                continue
            self._event(cid, "die")
            try:
                self._after_exit(cid, self.store.records.load(cid), EXIT_KILLED)
            except BerthError:
                continue
        if stale or rebooted(self.store.paths):
            for cid in daemon_start_candidates(self.store, set(stale)):
                try:
                    self.start_container(cid, None)
                except Exception as err:  # one container's failure must not stop the others' recovery
                    print(f"restart of {cid[:12]} failed: {err}", file=sys.stderr)
        _quietly(record_boot, self.store.paths)

    def _adopt(self, message: dict[str, Any], fds: list[int], tables: tuple[str, str]) -> None:
        """One container a dead monitor ran: read its pipes again, listen on its ports again."""
        from .remove import mount_id_of

        cid, pid, names = str(message["id"]), int(message["pid"]), list(message["names"])
        try:
            config, host = self.store.records.load(cid), self.store.records.load_host(cid)
        except BerthError:
            config = host = None
        if config is None or not config["State"].get("Running") or int(config["State"].get("Pid") or 0) != pid:
            for fd in fds:
                os.close(fd)
            if message.get("code") is None:
                _quietly(os.kill, pid, signal.SIGKILL)  # nobody's container: its record is gone
            self._to_keeper({"op": "release", "id": cid})
            return
        streams, master = {}, -1
        # fds came over the socket, names in the message: never raise here, pair what arrived
        for fd, name in zip(fds, names, strict=False):
            if name == "stdin":
                os.close(fd)  # the keeper keeps its own copy
            else:
                streams[fd] = "stdout" if name == "pty" else name
                master = fd if name == "pty" else master
        tty = bool(config["Config"].get("Tty"))
        ran = time.time() - float((message.get("meta") or {}).get("started") or time.time())
        process = ContainerProcess(pid, child=False)
        run = Running(cid, process, mount_id_of(self.store, cid), _log_writer(config, host, tty),
                      streams=streams, master=master,
                      cgroup=cgroups.for_container(cid, self.store.paths.root, mountinfo=tables[0],
                                                   proc_cgroup=tables[1]),
                      started=time.monotonic() - max(0.0, ran))
        if message.get("code") is None:
            try:
                from ..network.supervise import adopt_network

                run.network = adopt_network(self.store, cid, config, host, self.selector,
                                            lambda callback: ("net", callback))
            except Exception as err:  # its ports are lost, not the container
                print(f"monitor: cannot re-open the ports of {cid[:12]}: {err}", file=sys.stderr)
        self.running[cid] = run
        self.drainer.add(run)
        if message.get("code") is not None:
            run.code = process.exit_code = int(message["code"])
            self.drainer.finish(run)


def _read_text(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


def _quietly(call: Any, *args: Any) -> Any:
    """One step of an exit's cleanup: its failure (a full disk, a busy mount) must not skip the others."""
    try:
        return call(*args)
    except Exception as err:
        print(f"monitor: {getattr(call, '__name__', call)} failed: {err}", file=sys.stderr)
        return None


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
                                     pids=int(host.get("PidsLimit") or 0),
                                     all_devices=bool(host.get("Privileged"))))
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
        stdin = empty_stdin()
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


def _die_with_keeper() -> None:
    """SIGKILL when the keeper dies (its containers die with it too), and exit now if it already has."""
    from ..kernel import syscalls

    keeper = os.getppid()
    syscalls.prctl(syscalls.PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != keeper or keeper == 1:
        os._exit(1)


def main(argv: list[str]) -> int:
    """``python -m engine.containers.monitor ROOT``: the monitor its keeper starts (``BERTH_KEEPER_FD``).

    Run by hand (no keeper fd), it becomes the keeper, which then starts the monitor.
    """
    fd = os.environ.pop(KEEPER_FD_ENV, "")
    if not fd:
        from .keeper import main as keeper_main

        return keeper_main(argv)
    root = os.path.abspath(argv[0])
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)
    sys.stderr = SafeStream()  # type: ignore[assignment]  # a full disk must not kill us through monitor.log
    _die_with_keeper()
    raise_fd_limit()
    keeper = socket.socket(fileno=int(fd))
    os.set_inheritable(keeper.fileno(), False)
    monitor = Monitor(root, keeper)
    monitor.recover()
    monitor.listen()
    monitor.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
