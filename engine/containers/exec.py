"""``exec``: a command in a running container, with the container's Env, user and working dir by default."""

from __future__ import annotations

import os
from dataclasses import replace
from typing import TYPE_CHECKING

from ..errors import ContainerConflict, ContainerNotRunning, InvalidArgument
from ..runtime.nsenter import exec_in
from ..runtime.process import ProcessSpec
from ..runtime.pty import DEFAULT_DETACH_KEYS, console_socketpair, follow_window_size, get_window_size, receive_console
from ..runtime.relay import Relay
from .lifecycle import current
from .security import container_security

if TYPE_CHECKING:
    from ..context import StoreContext

__all__ = ["exec_command"]


def exec_command(store: StoreContext, cid: str, cmd: list[str], *, env: list[str], workdir: str, user: str,
                 detach: bool, stdio: tuple[int | None, int | None, int | None], terminal: bool = False) -> int:
    """Check the container can take a command, then run it inside (see runtime.nsenter).

    ``stdio`` are the caller's fds (None: stdin none, stdout/stderr this process's). The command never
    gets them: it gets pipes (stdin only when one is given, else the container's /dev/null) or, with
    ``terminal``, a pty of the container's devpts, and we copy between the two (Docker's model).
    Detached, it gets the container's /dev/null on all three.
    """
    if not cmd:
        raise InvalidArgument("exec needs a command")
    config = current(store, cid)
    state, cfg = config["State"], config["Config"]
    if not state["Running"]:
        raise ContainerNotRunning(f"Container {cid} is not running")
    if state["Paused"]:
        raise ContainerConflict(f"Container {cid} is paused, unpause the container before exec")
    pid = int(state["Pid"])
    spec = ProcessSpec(rootfs="/", argv=cmd, env=[*(cfg.get("Env") or []), *env],
                       cwd=workdir or cfg.get("WorkingDir") or "/", user=user or cfg.get("User") or "",
                       hostname=cfg.get("Hostname") or "")
    security = container_security(store.records.load_host(config["ID"]))
    spec = replace(spec, capabilities=security.capabilities, seccomp=security.seccomp,
                   no_new_privileges=security.no_new_privileges)
    stdin, stdout, stderr = stdio
    if detach:
        return exec_in(pid, spec, detach=True)
    if terminal:
        return _exec_with_terminal(pid, spec, stdin, 1 if stdout is None else stdout)
    return _exec_with_pipes(pid, spec, stdin, 1 if stdout is None else stdout, 2 if stderr is None else stderr)


def _exec_with_pipes(pid: int, spec: ProcessSpec, stdin: int | None, stdout: int, stderr: int) -> int:
    """Pipes for the command's stdio; ours copied to and from the caller's fds while it runs."""
    theirs: list[int] = []  # the command's ends: closed here once it has them
    ours: list[int] = []  # until the relay owns them
    try:
        in_r = in_w = None
        if stdin is not None:
            in_r, in_w = os.pipe2(os.O_CLOEXEC)
            theirs.append(in_r)
            ours.append(in_w)
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        theirs += [out_w, err_w]
        ours += [out_r, err_r]
        relay = Relay(keys=None if stdin is None or in_w is None else (stdin, in_w),
                      outputs=[(out_r, stdout), (err_r, stderr)], eof_closes_input=True)
        ours.clear()

        def attend(ended: int) -> None:
            _close(theirs)  # else the command's EOF never comes: we would hold its write ends
            relay.run(ended)

        try:
            return exec_in(pid, replace(spec, stdin=in_r, stdout=out_w, stderr=err_w), attend=attend)
        finally:
            relay.close()
    finally:
        _close(theirs)
        _close(ours)


def _exec_with_terminal(pid: int, spec: ProcessSpec, stdin: int | None, stdout: int) -> int:
    """``exec -t``: the command on a pty of the container's devpts, whose master we copy to and from the caller."""
    in_fd = 0 if stdin is None else stdin
    ours, theirs = console_socketpair()
    sockets = [ours, theirs]
    spec = replace(spec, terminal=True, console_socket=theirs, console_size=get_window_size(in_fd))

    def attend(ended: int) -> None:
        # Sent before exec, and exec happened: the master is waiting on the socket (with no peer left
        # open, a command that died without sending one gives EOF, not a hang).
        sockets.remove(theirs)
        os.close(theirs)
        sockets.remove(ours)
        master = receive_console(ours)
        relay = Relay(keys=None if stdin is None else (stdin, master), outputs=[(master, stdout)],
                      eof_closes_input=False, detach_keys=DEFAULT_DETACH_KEYS)
        try:
            with follow_window_size(in_fd, master):
                relay.run(ended)
        finally:
            relay.close()

    try:
        return exec_in(pid, spec, attend=attend)
    finally:
        _close(sockets)


def _close(fds: list[int]) -> None:
    while fds:
        os.close(fds.pop())
