"""``docker exec``: run one more command inside a running container, holding nothing of the caller's.

The engine forks a helper that first keeps only what the command needs (its
stdio pipes, the pty's console socket, the namespace fds, the report pipe) and
makes itself non-dumpable, so neither it nor the command before exec can be
read through ``/proc/<pid>/fd`` by the container. It joins the container's
cgroups, then its cgroup, IPC, UTS, network, pid and mount namespaces (setns on
``/proc/<pid>/ns/*``), then enters the init's own root (``/proc/<pid>/root``,
opened up front): setns puts it at the namespace's root mount, which is the
host's tree when the engine itself ran chrooted. Stdio it was not given is the
container's /dev/null, never the caller's. It forks the command, which is the
first to be *inside* the pid namespace and starts a session of its own (no
controlling terminal, so ``/dev/tty`` and TIOCSTI cannot reach the caller's);
with a terminal, that session's is a pty of the container's devpts. The
command drops the bounding set, switches user and execs, as the container's
init did; failures travel back through the same close-on-exec report pipe as
``process.start``'s.
"""

from __future__ import annotations

import errno
import fcntl
import os
import signal
import stat
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import NoReturn

from engine.kernel import syscalls
from engine.runtime import process, pty
from engine.runtime.process import ProcessSpec

__all__ = ["exec_in", "container_cgroup_procs"]

# setns order: cgroup first (its namespace root is then the joined cgroup), mount last
# (after it, /proc is the container's own, so the other /proc/<pid>/ns paths are opened up front).
_NAMESPACES = (
    ("cgroup", syscalls.CLONE_NEWCGROUP), ("ipc", syscalls.CLONE_NEWIPC), ("uts", syscalls.CLONE_NEWUTS),
    ("net", syscalls.CLONE_NEWNET), ("pid", syscalls.CLONE_NEWPID), ("mnt", syscalls.CLONE_NEWNS),
)


def container_cgroup_procs(pid: int, marker: str = "/berth-") -> tuple[str, ...]:
    """The cgroup.procs files of ``pid``'s own cgroups (those under berth's group dir), host paths."""
    from engine.runtime.cgroups import _mounts, _read

    mounts = list(_mounts(_read("/proc/self/mountinfo")))
    out = []
    for line in _read(f"/proc/{pid}/cgroup").splitlines():
        _, controllers, path = line.split(":", 2)
        if marker not in path + "/":
            continue
        wanted = set(controllers.split(",")) if controllers else set()
        for point, fstype, options in mounts:
            if (fstype == "cgroup2") if not wanted else (fstype == "cgroup" and wanted <= options):
                out.append(os.path.join(point, path.lstrip("/"), "cgroup.procs"))
                break
    return tuple(out)


def exec_in(pid: int, spec: ProcessSpec, *, detach: bool = False,
            attend: Callable[[int], None] | None = None) -> int:
    """Run ``spec`` (rootfs ignored) in the container whose init is ``pid``; its exit code (0 when detached).

    ``spec``'s stdin, stdout and stderr are fds for the command (pipes: the caller's own files and
    terminal must never be handed over); None is the container's /dev/null. A terminal needs
    ``console_socket``. Once the command runs, ``attend`` gets a pidfd that is readable when it has
    ended, to copy its streams meanwhile; the caller closes its copies of the command's ends first.

    Raises:
        ContainerStartError: the command never ran (125, 126 or 127).
    """
    ns_fds = [(os.open(f"/proc/{pid}/ns/{name}", os.O_RDONLY | os.O_CLOEXEC), flag) for name, flag in _NAMESPACES]
    root = os.open(f"/proc/{pid}/root", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    report_r, report_w = os.pipe2(os.O_CLOEXEC)
    try:
        helper = os.fork()
        if helper == 0:
            _helper(spec, ns_fds, root, container_cgroup_procs(pid), report_r, report_w, detach)
        os.close(report_w)
        report = process._read_report(report_r)
    finally:
        os.close(report_r)
        os.close(root)
        for fd, _ in ns_fds:
            os.close(fd)
    waited = False
    try:
        if not report and attend is not None:
            pidfd = os.pidfd_open(helper)
            try:
                attend(pidfd)
            finally:
                os.close(pidfd)
        _, status = os.waitpid(helper, 0)
        waited = True
    finally:
        if not waited:
            os.waitpid(helper, os.WNOHANG)  # interrupted: the command goes on, as after a killed docker CLI
    if report:
        raise process._start_error(report)
    return process._exit_code(status)


def _helper(spec: ProcessSpec, ns_fds: list[tuple[int, int]], root: int, procs: tuple[str, ...], report_r: int,
            report_w: int, detach: bool) -> NoReturn:
    """Shed the caller's fds, join, enter the root, fork the command, and exit with its code (at once if detached)."""
    code = process.EXIT_SETUP_FAILED
    try:
        os.close(report_r)
        # Above stderr before stdio is redirected, whatever numbers they had (a caller may run with 0-2 closed).
        report = fcntl.fcntl(report_w, fcntl.F_DUPFD_CLOEXEC, 3)
        try:
            syscalls.prctl(syscalls.PR_SET_DUMPABLE, 0)
            root = fcntl.fcntl(root, fcntl.F_DUPFD_CLOEXEC, 3)
            ns_fds = [(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3), flag) for fd, flag in ns_fds]
            console = None if spec.console_socket is None else fcntl.fcntl(spec.console_socket,
                                                                           fcntl.F_DUPFD_CLOEXEC, 3)
            process._redirect_stdio(spec)
            _close_all_but([report, root, *(fd for fd, _ in ns_fds), *([] if console is None else [console])])
            for path in procs:
                with open(path, "w", encoding="ascii") as f:
                    f.write("0")
            for fd, flag in ns_fds:
                syscalls.setns(fd, flag)
                os.close(fd)
            os.fchdir(root)
            os.chroot(".")
            os.close(root)
            _null_for_missing_stdio(spec)
            child = os.fork()
            if child == 0:
                _command(replace(spec, console_socket=console), report)
            os.close(report)
            if console is not None:
                os.close(console)  # the command's copy is the one peer left: its death means EOF, not a hang
            code = 0 if detach else process._exit_code(os.waitpid(child, 0)[1])
        except OSError as err:
            process._report(report, code, err.errno or 0, f"cannot enter the container: {process._describe(err)}")
    finally:
        os._exit(code)


def _close_all_but(keep: Iterable[int]) -> None:
    """Close every fd above stderr except ``keep``: the CLI's files, sockets and terminal stay out."""
    low = 3
    for fd in sorted(set(keep)):
        if fd >= low:
            os.closerange(low, fd)
            low = fd + 1
    syscalls.close_range(low)


def _null_for_missing_stdio(spec: ProcessSpec) -> None:
    """The container's own /dev/null on each of 0-2 the spec gives no fd for (the caller's are never kept).

    Opened inside the container's root without following a symlink or blocking on a FIFO, and checked
    to be the null device: the container's root owns that path.
    """
    missing = [target for target, fd in ((0, spec.stdin), (1, spec.stdout), (2, spec.stderr)) if fd is None]
    if not missing:
        return
    null = os.open("/dev/null", os.O_RDWR | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        info = os.fstat(null)
        if not stat.S_ISCHR(info.st_mode) or info.st_rdev != os.makedev(1, 3):
            raise OSError(errno.ENODEV, "the container's /dev/null is not the null device")
        os.set_blocking(null, True)
        for target in missing:
            os.dup2(null, target, inheritable=True)
    finally:
        os.close(null)


def _command(spec: ProcessSpec, report: int) -> NoReturn:
    """Inside every namespace now: the same steps as the init's, minus the mounts."""
    code = process.EXIT_SETUP_FAILED
    try:
        try:
            signal.pthread_sigmask(signal.SIG_SETMASK, ())
            process._reset_signals()
            user = process._resolve_user(spec.user)
            if spec.terminal and spec.console_socket is not None:
                pty.setup_console(spec.console_socket, spec.console_size, user.uid)  # its own session and tty
            else:
                os.setsid()  # no controlling terminal: /dev/tty is nobody's, TIOCSTI has no target
            process._enter_cwd(spec.cwd)
            process.confine_as_root(spec)  # the container's own capabilities, profile and no_new_privs
            process._switch_user(user)
            process.confine_as_user(spec)
            env = process._container_env(spec, user)
            path = process._look_path(spec.argv[0], env.get("PATH", ""))
            os.umask(0o022)
            process._mark_fds_cloexec()
            process._exec(path, spec.argv, env)
        except process._ExecFailed as failure:
            code = failure.exit_code
            process._report(report, code, failure.errno, str(failure))
        except OSError as err:
            process._report(report, code, err.errno or 0, process._describe(err))
        except BaseException as err:
            process._report(report, code, 0, f"exec setup failed: {err!r}")
    finally:
        os._exit(code)
