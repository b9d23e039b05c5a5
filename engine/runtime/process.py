"""Run one command isolated in a container root: namespaces, mounts, credentials, exec, exit code.

The engine thread that starts a container calls ``unshare(CLONE_NEWPID)`` on
itself (the pid namespace for *children* is per thread), forks, and puts itself
back at once; so the child is PID 1 of a new pid namespace and still the
engine's direct child: its exit status, and a SIGKILL that takes the whole
namespace down, need no middleman process.

The child never returns into the engine's Python code: it ends in ``execve`` or
``os._exit``. Any failure before exec travels back through a close-on-exec pipe
as ``(exit code, errno, message)``; end of file without a message means exec
succeeded.
"""

from __future__ import annotations

import errno
import fcntl
import os
import select
import signal
import stat
import struct
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NoReturn

from engine.errors import ContainerStartError, InvalidArgument
from engine.kernel import syscalls
from engine.runtime import capabilities, network, pty, rootfs, seccomp
from engine.runtime.rootfs import BindMount
from engine.runtime.seccomp_profile import DEFAULT_PROFILE, Profile
from engine.runtime.user import ExecUser, resolve_user

__all__ = [
    "BindMount",
    "ContainerProcess",
    "ContainerStartError",
    "ProcessSpec",
    "DEFAULT_PATH",
    "EXIT_SETUP_FAILED",
    "EXIT_CANNOT_EXECUTE",
    "EXIT_NOT_FOUND",
    "run_isolated",
    "start",
]

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Docker's (and the shell's) exit codes for a command that never ran.
EXIT_SETUP_FAILED = 125
EXIT_CANNOT_EXECUTE = 126
EXIT_NOT_FOUND = 127
# A command killed by signal N exits 128 + N.
_SIGNAL_EXIT_BASE = 128
# What ``ContainerProcess.wait`` says of an orphan: its exit status went to its subreaper.
EXIT_UNKNOWN = -1
# The intermediate process of an orphan start sends the init's host pid as one native int.
_PID_REPORT = struct.Struct("=i")

_NAMESPACES = syscalls.CLONE_NEWNS | syscalls.CLONE_NEWUTS | syscalls.CLONE_NEWIPC
# The failure report: exit code and errno as native ints, then a UTF-8 message.
_REPORT_HEADER = struct.Struct("=ii")
# Well under PIPE_BUF (4096), so the report is one atomic write.
_REPORT_MAX = 2048
# How often a wait with a cancel event looks at the event.
_CANCEL_POLL_SECONDS = 0.05
# HOST_NAME_MAX in <bits/local_lim.h>.
_MAX_HOSTNAME = 64
# The lowest fd the child may park the report pipe on, clear of 0, 1 and 2.
_FIRST_FREE_FD = 3


@dataclass(frozen=True)
class ProcessSpec:
    """Everything the container's first process needs; the root is already mounted."""

    rootfs: str
    """The merged directory of the container's overlay (absolute)."""
    argv: Sequence[str]
    """Command and arguments; argv[0] without a slash is looked up in the container's PATH."""
    env: Sequence[str] = ()
    """``K=V`` entries; PATH, HOME and HOSTNAME get Docker's defaults when missing."""
    cwd: str = "/"
    """Absolute directory inside the container; it must exist."""
    user: str = ""
    """``uid[:gid]`` or ``name[:group]``, looked up in the container's /etc files; "" is root."""
    hostname: str = ""
    """The UTS namespace's hostname; "" keeps the host's."""
    stdin: int | None = None
    """File descriptor to use as the command's stdin; None inherits the engine's."""
    stdout: int | None = None
    stderr: int | None = None
    mounts: Sequence[BindMount] = ()
    """Bind mounts (volumes), applied in order after /proc, /dev and /sys."""
    capabilities: frozenset[str] = field(default=capabilities.DEFAULT_CAPABILITIES)
    """The capability bounding set, by name; Docker's default set unless given."""
    no_new_privileges: bool = False
    """``--security-opt no-new-privileges``: setuid binaries and file capabilities cannot raise privileges.
    Off by default, as in Docker, so ``sudo`` and ``su`` work for a container's non-root users."""
    seccomp: Profile | None = DEFAULT_PROFILE
    """The seccomp profile (Docker's default semantics unless given); None is ``seccomp=unconfined``."""
    privileged: bool = False
    """``--privileged``: the host's devices in /dev, /sys writable, no masked or read-only /proc paths
    (the caller also grants every capability and drops the seccomp profile)."""
    namespaces: int = 0
    """More CLONE_NEW* flags (CLONE_NEWNET, CLONE_NEWCGROUP) on top of mount, UTS, IPC and pid."""
    cgroup_procs: Sequence[str] = ()
    """``cgroup.procs`` files the process joins before it unshares (and before it can run anything)."""
    terminal: bool = False
    """``-t``: with ``console_socket``, a pty of the container's own devpts; without, stdin (a pty slave) is made
    the controlling terminal of a new session."""
    console_socket: int | None = None
    """Our end of ``pty.console_socketpair()``: the process sends its pty master back on it before exec."""
    console_size: tuple[int, int] | None = None
    """(rows, cols) of that pty, set before exec so the command's first ``stty size`` is right."""
    tmpfs: Sequence[tuple[str, str]] = ()
    """(container path, mount options) of each ``--tmpfs``."""
    readonly_rootfs: bool = False
    """``--read-only``: the root is mounted read-only (volumes, tmpfs, /dev and /proc are not)."""
    netns_path: str = ""
    """A network namespace to join (bridge mode: made and wired by the engine; ``container:``: another's),
    in place of a fresh one from CLONE_NEWNET."""


class _ExecFailed(Exception):
    """The command could not be exec'd; carries Docker's exit code for it."""

    def __init__(self, exit_code: int, err: int, message: str) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.errno = err


def _exit_code(status: int) -> int:
    """Docker's exit code from a wait status: the code, or 128 + N for a kill by signal N."""
    code = os.waitstatus_to_exitcode(status)
    return _SIGNAL_EXIT_BASE - code if code < 0 else code


class ContainerProcess:
    """A running container's first process (PID 1 of its pid namespace).

    Started plainly, it is a direct child of this thread and is killed when that
    thread exits (PR_SET_PDEATHSIG), so start it on a thread that lives as long as
    the container. Started with ``orphan=True`` it is the child of this process's
    nearest subreaper instead (the store's keeper), which reaps it: ``wait`` then
    only waits for it to be gone, and knows no exit code.
    """

    def __init__(self, pid: int, child: bool = True) -> None:
        self.pid = pid
        """Host pid of the container's init."""
        self.child = child
        """False for an orphan: someone else reaps it."""
        self.exit_code: int | None = None
        """Set once the process has been reaped."""

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the container's init; SIGKILL ends every process in the container."""
        if self.exit_code is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def wait(self, cancel: threading.Event | None = None) -> int:
        """Wait for the container to end and return its exit code; setting ``cancel`` kills it first."""
        if self.exit_code is None:
            if cancel is not None or not self.child:
                self._wait_or_cancel(cancel or threading.Event())
            if not self.child:
                self.exit_code = EXIT_UNKNOWN
                return self.exit_code
            _, status = os.waitpid(self.pid, 0)
            self.exit_code = _exit_code(status)
        return self.exit_code

    def _wait_or_cancel(self, cancel: threading.Event) -> None:
        """Block until the process exits (without reaping it) or ``cancel`` is set, which kills it."""
        try:
            pidfd = os.pidfd_open(self.pid)
        except ProcessLookupError:  # an orphan already reaped by its subreaper
            return
        try:
            poller = select.poll()
            poller.register(pidfd, select.POLLIN)
            while not cancel.is_set():
                if poller.poll(_CANCEL_POLL_SECONDS * 1000):
                    return
            self.kill()
        finally:
            os.close(pidfd)


def empty_stdin() -> int:
    """A stdin that reads EOF at once, as /dev/null does, but is no host file (a pipe with no writer).

    The host's /dev/null handed to a container is the host's inode: root inside can chmod or chown
    it through /proc/self/fd/0 (Docker gives none of the host's files either).
    """
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    os.close(write_end)
    return read_end


def run_isolated(spec: ProcessSpec, cancel: threading.Event | None = None) -> int:
    """Run ``spec`` to completion in new mount, UTS, IPC and pid namespaces and return its exit code.

    Args:
        spec: the command and the already-mounted root it runs in.
        cancel: when set, the container is killed (exit code 137).

    Returns:
        The command's exit code, or 128 + N when signal N killed it.

    Raises:
        InvalidArgument: the spec cannot describe a container.
        ContainerStartError: the command never ran (exit_code 125, 126 or 127).
    """
    process = start(spec)
    try:
        return process.wait(cancel)
    except BaseException:
        process.kill()
        process.wait()
        raise


def start(spec: ProcessSpec, *, orphan: bool = False) -> ContainerProcess:
    """Start ``spec`` and return once its command has been exec'd.

    ``orphan``: fork the init from a short-lived intermediate process, so it is
    re-parented to this process's nearest subreaper (the store's keeper) at once and
    outlives us; it then dies with that subreaper instead (PR_SET_PDEATHSIG, armed
    only once the re-parenting is done).

    Raises:
        InvalidArgument: the spec cannot describe a container.
        ContainerStartError: the command never ran (exit_code 125, 126 or 127).
    """
    _validate(spec)
    report_r, report_w = os.pipe2(os.O_CLOEXEC)
    # Ctrl-C is held back until the child has a ContainerProcess to be killed through.
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        pid = _fork_orphan(spec, report_r, report_w) if orphan else _fork_child(spec, report_r, report_w)
    except BaseException:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        os.close(report_r)
        raise
    process = ContainerProcess(pid, child=not orphan)
    try:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        report = _read_report(report_r)
    except BaseException:
        process.kill()
        process.wait()
        raise
    finally:
        os.close(report_r)
    if report:
        process.wait()
        raise _start_error(report)
    return process


def _fork_child(spec: ProcessSpec, report_r: int, report_w: int) -> int:
    """Fork the container's init (which never returns here); the engine keeps only the report's read end."""
    try:
        pid = _fork_as_pid_ns_init()
        if pid == 0:
            _child(spec, report_r, report_w)
    except OSError as err:
        raise ContainerStartError(f"cannot start the container: {_describe(err)}", EXIT_SETUP_FAILED) from err
    finally:
        os.close(report_w)
    return pid


def _fork_orphan(spec: ProcessSpec, report_r: int, report_w: int) -> int:
    """Fork an intermediate that forks the init and exits; the init's host pid comes back on a pipe."""
    pid_r, pid_w = os.pipe2(os.O_CLOEXEC)
    try:
        middle = os.fork()
        if middle == 0:
            _intermediate(spec, report_r, report_w, pid_r, pid_w)
    except OSError as err:
        os.close(pid_r)
        raise ContainerStartError(f"cannot start the container: {_describe(err)}", EXIT_SETUP_FAILED) from err
    finally:
        os.close(report_w)
        os.close(pid_w)
    try:
        data = _read_report(pid_r)
    finally:
        os.close(pid_r)
        os.waitpid(middle, 0)
    if len(data) != _PID_REPORT.size:
        raise ContainerStartError("cannot start the container: its init was not forked", EXIT_SETUP_FAILED)
    return int(_PID_REPORT.unpack(data)[0])


def _intermediate(spec: ProcessSpec, report_r: int, report_w: int, pid_r: int, pid_w: int) -> NoReturn:
    """The orphan's parent for an instant: fork the init, say its pid, exit (never unwind into the engine)."""
    code = EXIT_SETUP_FAILED
    try:
        os.close(pid_r)
        # The init waits on this to be gone (readable once re-parenting is done) before it arms PR_SET_PDEATHSIG.
        me = os.pidfd_open(os.getpid())
        pid = _fork_as_pid_ns_init()
        if pid == 0:
            os.close(pid_w)
            _child(spec, report_r, report_w, parent_pidfd=me)
        os.write(pid_w, _PID_REPORT.pack(pid))
        code = 0
    finally:
        os._exit(code)


def _validate(spec: ProcessSpec) -> None:
    """Reject a spec in the engine's process, where the error is cheap and clear."""
    if not spec.argv:
        raise InvalidArgument("no command given")
    if not os.path.isabs(spec.cwd):
        raise InvalidArgument(f"the working directory must be absolute: {spec.cwd}")
    if any("\0" in item for item in (*spec.argv, *spec.env, spec.cwd, spec.user, spec.hostname)):
        raise InvalidArgument("command, environment, working directory, user and hostname cannot hold NUL bytes")
    if len(spec.hostname.encode()) > _MAX_HOSTNAME:
        raise InvalidArgument(f"hostname is longer than {_MAX_HOSTNAME} bytes: {spec.hostname}")
    if not os.path.isdir(spec.rootfs):
        raise InvalidArgument(f"container root is not a directory: {spec.rootfs}")
    for bind in spec.mounts:
        if not os.path.isabs(bind.source) or not os.path.isabs(bind.destination):
            raise InvalidArgument(f"bind mount paths must be absolute: {bind.source}:{bind.destination}")
        if not os.path.exists(bind.source):
            raise InvalidArgument(f"bind mount source does not exist: {bind.source}")
    try:
        capabilities.capability_numbers(spec.capabilities)
    except ValueError as err:
        raise InvalidArgument(str(err)) from err
    seccomp.check_profile(spec.seccomp, spec.capabilities)


def _fork_as_pid_ns_init() -> int:
    """fork(), with the child as PID 1 of a new pid namespace; this thread's own children are unaffected after."""
    own = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    pid = -1
    try:
        syscalls.unshare(syscalls.CLONE_NEWPID)
        pid = os.fork()
    finally:
        if pid != 0:
            syscalls.setns(own, syscalls.CLONE_NEWPID)
        os.close(own)
    return pid


def _read_report(fd: int) -> bytes:
    """Everything the child wrote before exec or exit; empty once exec succeeded."""
    chunks = []
    while chunk := os.read(fd, _REPORT_MAX):
        chunks.append(chunk)
    return b"".join(chunks)


def _start_error(report: bytes) -> ContainerStartError:
    """The error the child reported, as the user sees it."""
    if len(report) < _REPORT_HEADER.size:
        return ContainerStartError("container setup failed without a report", EXIT_SETUP_FAILED)
    code, err = _REPORT_HEADER.unpack_from(report)
    message = report[_REPORT_HEADER.size :].decode("utf-8", "replace")
    return ContainerStartError(message, code, err)


# Everything below runs in the child only.


def _child(spec: ProcessSpec, report_r: int, report_w: int, parent_pidfd: int | None = None) -> NoReturn:
    """The container's init until exec: report any failure to the engine, never unwind into its code."""
    code = EXIT_SETUP_FAILED
    try:
        os.close(report_r)
        report = fcntl.fcntl(report_w, fcntl.F_DUPFD_CLOEXEC, _FIRST_FREE_FD)
        try:
            if parent_pidfd is not None:
                _await_reparent(parent_pidfd)
            _setup_and_exec(spec, report)
        except _ExecFailed as failure:
            code = failure.exit_code
            _report(report, code, failure.errno, str(failure))
        except OSError as err:
            _report(report, code, err.errno or 0, _describe(err))
        except BaseException as err:
            _report(report, code, 0, f"container setup failed: {err!r}")
    finally:
        os._exit(code)


def _describe(err: OSError) -> str:
    """An OSError as one line: the message, then the path it concerns, if any."""
    message = err.strerror or str(err)
    return f"{message}: {err.filename}" if err.filename else message


def _report(fd: int, code: int, err: int, message: str) -> None:
    """Send one failure report to the engine; if the engine is gone, there is no one to tell."""
    data = _REPORT_HEADER.pack(code, err) + message.encode("utf-8", "replace")
    try:
        os.write(fd, data[:_REPORT_MAX])
    except OSError:
        pass


def _setup_and_exec(spec: ProcessSpec, report: int) -> NoReturn:
    """Namespaces, root, hostname, credentials, then exec: the order each step needs."""
    _die_with_parent(report)
    _reset_signals()
    _redirect_stdio(spec)
    if spec.terminal and spec.console_socket is None:
        pty.take_controlling_terminal()
    elif not spec.terminal:
        os.setsid()  # as runc: a session of its own, so no /dev/tty (nor TIOCSTI) reaches the caller's terminal
    _join_cgroups(spec.cgroup_procs)
    if spec.netns_path:
        network.join_netns(spec.netns_path)
    syscalls.unshare(_NAMESPACES | spec.namespaces)
    if spec.namespaces & syscalls.CLONE_NEWNET:
        network.loopback_up()
    rootfs.prepare_rootfs(spec.rootfs, spec.mounts, tmpfs=spec.tmpfs, readonly=spec.readonly_rootfs,
                          privileged=spec.privileged)
    if spec.hostname:
        syscalls.sethostname(spec.hostname)
    user = _resolve_user(spec.user)
    if spec.terminal and spec.console_socket is not None:
        pty.setup_console(spec.console_socket, spec.console_size, user.uid)
    _enter_cwd(spec.cwd)
    confine_as_root(spec)
    _switch_user(user)
    # Changing uid clears the parent-death signal, so set it again.
    _die_with_parent(report)
    confine_as_user(spec)
    env = _container_env(spec, user)
    path = _look_path(spec.argv[0], env.get("PATH", ""))
    os.umask(0o022)
    _mark_fds_cloexec()
    _exec(path, spec.argv, env)


def _await_reparent(parent_pidfd: int) -> None:
    """Wait until the intermediate parent is gone: a parent-death signal armed before then would fire at once.

    A pidfd turns readable only after the kernel re-parented the exiting process's children.
    """
    poller = select.poll()  # not select(): a monitor of a thousand containers hands out fd numbers above 1024
    poller.register(parent_pidfd, select.POLLIN)
    poller.poll()
    os.close(parent_pidfd)


def confine_as_root(spec: ProcessSpec) -> None:
    """Cut the bounding set and, without no_new_privs, install the seccomp filter: while still root.

    The kernel takes a filter from a process without no_new_privs only if it holds
    CAP_SYS_ADMIN, which the switch to the container's user drops; the profile must
    then allow what follows (setgroups, setuid, execve), as runc's must.
    """
    capabilities.drop_bounding_set(capabilities.capability_numbers(spec.capabilities))
    if spec.seccomp is not None and not spec.no_new_privileges:
        seccomp.install_filter(spec.seccomp, spec.capabilities)


def confine_as_user(spec: ProcessSpec) -> None:
    """With no_new_privs: set it, then install the filter as late as runc does, after the user switch."""
    if spec.no_new_privileges:
        syscalls.prctl(syscalls.PR_SET_NO_NEW_PRIVS, 1)
        if spec.seccomp is not None:
            seccomp.install_filter(spec.seccomp, spec.capabilities)


def _die_with_parent(report: int) -> None:
    """Get SIGKILL when the engine's thread dies, and exit now if it already has.

    The report pipe's read end lives only in the engine, so POLLERR on our write
    end means the engine is gone (getppid() says 0 in a new pid namespace either way).
    """
    syscalls.prctl(syscalls.PR_SET_PDEATHSIG, signal.SIGKILL)
    poller = select.poll()
    poller.register(report, select.POLLOUT)
    for _fd, events in poller.poll(0):
        if events & (select.POLLERR | select.POLLHUP):
            os._exit(EXIT_SETUP_FAILED)


def _join_cgroups(procs_files: Sequence[str]) -> None:
    """Move this process into its cgroups ("0" means the writer) while it still sees the host's /sys."""
    for path in procs_files:
        with open(path, "w", encoding="ascii") as f:
            f.write("0")


def _reset_signals() -> None:
    """Give the command default dispositions and an empty mask: ignored signals survive exec.

    Python ignores SIGPIPE and SIGXFSZ; the engine's thread may block signals.
    """
    signal.pthread_sigmask(signal.SIG_SETMASK, ())
    for sig in signal.valid_signals():
        if sig in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:
            if signal.getsignal(sig) == signal.SIG_IGN:
                signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError):
            continue


def _redirect_stdio(spec: ProcessSpec) -> None:
    """Put the spec's fds on 0, 1 and 2; copies first, so swapping (stdout=2, stderr=1) works."""
    wanted = {0: spec.stdin, 1: spec.stdout, 2: spec.stderr}
    copies = {
        target: fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, _FIRST_FREE_FD)
        for target, fd in wanted.items()
        if fd is not None
    }
    for target, copy in copies.items():
        os.dup2(copy, target, inheritable=True)
        os.close(copy)


def _resolve_user(spec: str) -> ExecUser:
    """The user from the container's own /etc/passwd and /etc/group."""
    try:
        return resolve_user(spec)
    except LookupError as err:
        raise OSError(errno.ENOENT, str(err)) from err


def _enter_cwd(cwd: str) -> None:
    """chdir into the working directory, as root so a 0700 directory still works for another user."""
    try:
        os.chdir(cwd)
    except FileNotFoundError as err:
        raise OSError(err.errno, f"working directory {cwd}: no such directory") from err
    except OSError as err:
        raise OSError(err.errno, f"working directory {cwd}: {err.strerror}") from err


def _switch_user(user: ExecUser) -> None:
    """Supplementary groups, then gid, then uid (after setuid the others are no longer allowed)."""
    os.setgroups(list(user.groups))
    os.setgid(user.gid)
    os.setuid(user.uid)


def _container_env(spec: ProcessSpec, user: ExecUser) -> dict[str, str]:
    """The command's environment: the spec's entries over Docker's PATH, HOSTNAME and HOME defaults."""
    env = {"PATH": DEFAULT_PATH}
    if spec.hostname:
        env["HOSTNAME"] = spec.hostname
    env["HOME"] = user.home
    for entry in spec.env:
        key, sep, value = entry.partition("=")
        if sep:
            env[key] = value
    return env


def _is_executable_file(path: str) -> bool:
    """Go's exec.LookPath test: exists, is not a directory, has an execute bit."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not stat.S_ISDIR(mode) and bool(mode & 0o111)


def _look_path(name: str, search: str) -> str:
    """Find ``name`` in the container's PATH; a name with a slash is used as it is."""
    if "/" in name:
        return name
    for directory in search.split(":"):
        candidate = os.path.join(directory or ".", name)
        if _is_executable_file(candidate):
            return candidate
    raise _ExecFailed(EXIT_NOT_FOUND, errno.ENOENT, f'exec: "{name}": executable file not found in $PATH')


def _mark_fds_cloexec() -> None:
    """Keep every fd above stderr out of the command (the engine's files, sockets, locks)."""
    try:
        syscalls.close_range(_FIRST_FREE_FD, flags=syscalls.CLOSE_RANGE_CLOEXEC)
    except OSError:
        for name in os.listdir("/proc/self/fd"):
            fd = int(name)
            if fd >= _FIRST_FREE_FD:
                try:
                    os.set_inheritable(fd, False)
                except OSError:
                    continue


def _exec(path: str, argv: Sequence[str], env: Mapping[str, str]) -> NoReturn:
    """execve, with Docker's exit code when it fails: 127 not found, 126 found but not runnable."""
    try:
        os.execve(path, list(argv), env)
    except OSError as err:
        code = EXIT_NOT_FOUND if err.errno in (errno.ENOENT, errno.ENOTDIR) else EXIT_CANNOT_EXECUTE
        reason = (err.strerror or "cannot execute").lower()
        raise _ExecFailed(code, err.errno or 0, f'exec: "{path}": {reason}') from err
