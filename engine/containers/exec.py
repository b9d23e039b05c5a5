"""``exec``: a command in a running container, with the container's Env, user and working dir by default."""

from __future__ import annotations

import os
import select
import threading
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..errors import ContainerConflict, ContainerNotRunning, InvalidArgument
from ..runtime.nsenter import exec_in
from ..runtime.process import ProcessSpec
from ..runtime.pty import (
    console_socketpair, copy_input, copy_output, follow_window_size, get_window_size, receive_console,
)
from .lifecycle import current
from .security import container_security

if TYPE_CHECKING:
    from ..engine import Engine

__all__ = ["exec_command"]


def exec_command(engine: "Engine", cid: str, cmd: list[str], *, env: list[str], workdir: str, user: str,
                 detach: bool, stdio: tuple[int | None, int | None, int | None], terminal: bool = False) -> int:
    """Check the container can take a command, then run it inside (see runtime.nsenter)."""
    if not cmd:
        raise InvalidArgument("exec needs a command")
    config = current(engine, cid)
    state, cfg = config["State"], config["Config"]
    if not state["Running"]:
        raise ContainerNotRunning(f"Container {cid} is not running")
    if state["Paused"]:
        raise ContainerConflict(f"Container {cid} is paused, unpause the container before exec")
    null = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    try:
        stdin, stdout, stderr = stdio
        spec = ProcessSpec(rootfs="/", argv=cmd, env=[*(cfg.get("Env") or []), *env],
                           cwd=workdir or cfg.get("WorkingDir") or "/", user=user or cfg.get("User") or "",
                           hostname=cfg.get("Hostname") or "", stdin=null if stdin is None else stdin,
                           stdout=stdout, stderr=stderr)
        security = container_security(engine.containers.load_host(config["ID"]))
        spec = replace(spec, capabilities=security.capabilities, seccomp=security.seccomp,
                       no_new_privileges=security.no_new_privileges)
        if terminal and not detach:
            return _exec_with_terminal(int(state["Pid"]), spec, stdin, stdout)
        return exec_in(int(state["Pid"]), spec, detach=detach)
    finally:
        os.close(null)


def _exec_with_terminal(pid: int, spec: ProcessSpec, stdin: int | None, stdout: int | None) -> int:
    """``exec -t``: the command on a pty of the container's devpts, whose master we copy to and from the caller."""
    in_fd, out_fd = 0 if stdin is None else stdin, 1 if stdout is None else stdout
    ours, theirs = console_socketpair()
    stop = threading.Event()
    result: dict[str, Any] = {}
    spec = replace(spec, stdin=None, stdout=None, stderr=None, terminal=True, console_socket=theirs,
                   console_size=get_window_size(in_fd))

    def run() -> None:
        try:
            result["code"] = exec_in(pid, spec)
        except BaseException as err:
            result["error"] = err
        finally:
            stop.set()

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    master = _console_or_none(ours, theirs, stop)
    if master is not None:
        reader = threading.Thread(target=copy_input, args=(in_fd, master, stop), daemon=True)
        if stdin is not None:
            reader.start()
        with follow_window_size(in_fd, master):
            copy_output(master, out_fd, threading.Event())
        worker.join()
        if reader.is_alive():
            reader.join()  # it sees ``stop`` within a poll; the caller may close its stdin once we return
        os.close(master)
    worker.join()
    error = result.get("error")
    if isinstance(error, BaseException):
        raise error
    return int(result["code"])


def _console_or_none(ours: int, theirs: int, done: threading.Event) -> int | None:
    """The pty master the command sends before exec; None if it ended (or failed) without sending one."""
    try:
        while not select.select([ours], [], [], 0.05)[0]:
            if done.is_set() and not select.select([ours], [], [], 0)[0]:
                return None
        return receive_console(os.dup(ours))
    except OSError:
        return None
    finally:
        os.close(ours)
        os.close(theirs)
