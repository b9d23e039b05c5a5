"""``docker exec``: run one more command inside a running container.

The engine forks a helper that joins the container's cgroups, then its
cgroup, IPC, UTS, network, pid and mount namespaces (setns on
``/proc/<pid>/ns/*``; joining the mount namespace also puts it at the
container's root), and forks the command, which is the first to be *inside*
the pid namespace. The command drops the bounding set, switches user and
execs, as the container's init did; failures travel back through the same
close-on-exec report pipe as ``process.start``'s.
"""

from __future__ import annotations

import fcntl
import os
import signal
from typing import NoReturn

from engine.runtime import capabilities, process, pty, seccomp, syscalls
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


def exec_in(pid: int, spec: ProcessSpec, *, detach: bool = False) -> int:
    """Run ``spec`` (rootfs ignored) in the container whose init is ``pid``; its exit code (0 when detached).

    Raises:
        ContainerStartError: the command never ran (125, 126 or 127).
    """
    ns_fds = [(os.open(f"/proc/{pid}/ns/{name}", os.O_RDONLY | os.O_CLOEXEC), flag) for name, flag in _NAMESPACES]
    report_r, report_w = os.pipe2(os.O_CLOEXEC)
    try:
        helper = os.fork()
        if helper == 0:
            _helper(spec, ns_fds, container_cgroup_procs(pid), report_r, report_w, detach)
        os.close(report_w)
        report = process._read_report(report_r)
    finally:
        os.close(report_r)
        for fd, _ in ns_fds:
            os.close(fd)
    _, status = os.waitpid(helper, 0)
    if report:
        raise process._start_error(report)
    return process._exit_code(status)


def _helper(spec: ProcessSpec, ns_fds: list[tuple[int, int]], procs: tuple[str, ...], report_r: int,
            report_w: int, detach: bool) -> NoReturn:
    """Join, fork the command, and exit with its code (or at once when detached)."""
    code = process.EXIT_SETUP_FAILED
    try:
        os.close(report_r)
        report = fcntl.fcntl(report_w, fcntl.F_DUPFD_CLOEXEC, 3)
        try:
            for path in procs:
                with open(path, "w", encoding="ascii") as f:
                    f.write("0")
            for fd, flag in ns_fds:
                syscalls.setns(fd, flag)
            child = os.fork()
            if child == 0:
                _command(spec, report)
            os.close(report)
            code = 0 if detach else process._exit_code(os.waitpid(child, 0)[1])
        except OSError as err:
            process._report(report, code, err.errno or 0, f"cannot enter the container: {process._describe(err)}")
    finally:
        os._exit(code)


def _command(spec: ProcessSpec, report: int) -> NoReturn:
    """Inside every namespace now: the same steps as the init's, minus the mounts."""
    code = process.EXIT_SETUP_FAILED
    try:
        try:
            signal.pthread_sigmask(signal.SIG_SETMASK, ())
            process._reset_signals()
            process._redirect_stdio(spec)
            if spec.terminal and spec.console_socket is None:
                pty.take_controlling_terminal()
            user = process._resolve_user(spec.user)
            if spec.terminal and spec.console_socket is not None:
                pty.setup_console(spec.console_socket, spec.console_size, user.uid)
            process._enter_cwd(spec.cwd)
            capabilities.drop_bounding_set(capabilities.capability_numbers(spec.capabilities))
            seccomp.install_filter()  # before dropping root, while CAP_SYS_ADMIN lets the kernel take it
            process._switch_user(user)
            if spec.no_new_privileges:
                syscalls.prctl(syscalls.PR_SET_NO_NEW_PRIVS, 1)
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
