"""The process-isolation core against real namespaces and real overlay mounts over a busybox root."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from engine.errors import InvalidArgument, MountError
from engine.kernel.overlay import (
    mount_overlay,
    mount_overlay_ro,
    overlay_options,
    unmount,
)
from engine.runtime.process import (
    BindMount,
    ContainerStartError,
    ProcessSpec,
    run_isolated,
    start,
)
from engine.runtime.rootfs import resolve_in_root

BUSYBOX = "/bin/busybox"
APPLETS = ("sh", "true", "false", "echo", "cat", "id", "hostname", "ls", "mount", "ps", "sleep", "pwd", "touch")
PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
GROUP = "root:x:0:\nstaff:x:50:nobody\nnogroup:x:65534:\n"
# Docker's default bounding set (CHOWN … SETFCAP), as /proc/<pid>/status prints it.
DOCKER_CAPBND = "00000000a80425fb"
REPO = str(Path(__file__).resolve().parents[2])


@dataclass(frozen=True)
class Rootfs:
    lower: Path
    upper: Path
    merged: Path

    def spec(self, *argv: str, **kwargs: object) -> ProcessSpec:
        return ProcessSpec(rootfs=str(self.merged), argv=argv, **kwargs)  # type: ignore[arg-type]


def make_busybox_lower(lower: Path) -> None:
    (lower / "bin").mkdir(parents=True)
    (lower / "etc").mkdir()
    shutil.copy2(BUSYBOX, lower / "bin" / "busybox")
    for applet in APPLETS:
        (lower / "bin" / applet).symlink_to("busybox")
    (lower / "etc" / "passwd").write_text(PASSWD)
    (lower / "etc" / "group").write_text(GROUP)
    (lower / "bin" / "notexec").write_text("#!/bin/sh\necho never\n")
    (lower / "bin" / "notexec").chmod(0o644)


@pytest.fixture
def rootfs(store_root: Path) -> Iterator[Rootfs]:
    """A busybox lower dir with an empty upper, mounted as an overlay under the test's store root."""
    if not os.path.exists(BUSYBOX):
        pytest.fail(f"{BUSYBOX} is missing: apt-get install busybox-static")
    dirs = {name: store_root / name for name in ("lower", "upper", "work", "merged")}
    for name in ("upper", "work", "merged"):
        dirs[name].mkdir()
    make_busybox_lower(dirs["lower"])
    mount_overlay([str(dirs["lower"])], str(dirs["upper"]), str(dirs["work"]), str(dirs["merged"]))
    try:
        yield Rootfs(dirs["lower"], dirs["upper"], dirs["merged"])
    finally:
        unmount(str(dirs["merged"]), detach=True)


def run_capture(spec: ProcessSpec) -> tuple[int, str]:
    """Run ``spec`` with stdout and stderr on one pipe; return the exit code and the output."""
    read_end, write_end = os.pipe()
    try:
        code = run_isolated(replace(spec, stdout=write_end, stderr=write_end))
    finally:
        os.close(write_end)
    with os.fdopen(read_end, encoding="utf-8") as f:
        return code, f.read()


def tree(path: Path) -> dict[str, tuple[int, int, bytes | str | None]]:
    """Every entry under ``path`` with its mode, size and contents (or link target)."""
    found: dict[str, tuple[int, int, bytes | str | None]] = {}
    for entry in sorted(path.rglob("*")):
        info = entry.lstat()
        if entry.is_symlink():
            content: bytes | str | None = os.readlink(entry)
        elif entry.is_file():
            content = entry.read_bytes()
        else:
            content = None
        found[str(entry.relative_to(path))] = (info.st_mode, info.st_size, content)
    return found


def process_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            return f.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def wait_until(predicate: object, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False


# Exit codes


@pytest.mark.parametrize(("argv", "expected"), [(("true",), 0), (("false",), 1), (("sh", "-c", "exit 3"), 3)])
def test_exit_code_propagates(rootfs: Rootfs, argv: tuple[str, ...], expected: int) -> None:
    assert run_isolated(rootfs.spec(*argv)) == expected


@pytest.mark.parametrize("name", ["no-such-command", "/bin/no-such-command"])
def test_missing_command_is_127(rootfs: Rootfs, name: str) -> None:
    with pytest.raises(ContainerStartError) as caught:
        run_isolated(rootfs.spec(name))
    assert caught.value.exit_code == 127
    assert "no-such-command" in str(caught.value)


def test_non_executable_file_is_126(rootfs: Rootfs) -> None:
    with pytest.raises(ContainerStartError) as caught:
        run_isolated(rootfs.spec("/bin/notexec"))
    assert caught.value.exit_code == 126
    assert caught.value.errno == errno.EACCES
    assert "permission denied" in str(caught.value)


def test_killed_by_signal_is_128_plus_n(rootfs: Rootfs) -> None:
    process = start(rootfs.spec("sleep", "100"))
    try:
        os.kill(process.pid, signal.SIGKILL)
    finally:
        code = process.wait()
    assert code == 128 + signal.SIGKILL


def test_cancel_event_kills_quickly(rootfs: Rootfs) -> None:
    cancel = threading.Event()
    timer = threading.Timer(0.2, cancel.set)
    timer.start()
    began = time.monotonic()
    try:
        code = run_isolated(rootfs.spec("sleep", "100"), cancel=cancel)
    finally:
        timer.cancel()
    assert code == 128 + signal.SIGKILL
    assert time.monotonic() - began < 50  # killed, not waited for: sleep 100 would have taken 100 s


# What the command sees


def test_stdout_captured_through_pipe(rootfs: Rootfs) -> None:
    assert run_capture(rootfs.spec("echo", "hello", "world")) == (0, "hello world\n")


def test_stdin_from_fd(rootfs: Rootfs, tmp_path: Path) -> None:
    source = tmp_path / "input"
    source.write_text("from stdin\n")
    with open(source, "rb") as f:
        assert run_capture(replace(rootfs.spec("cat"), stdin=f.fileno())) == (0, "from stdin\n")


def test_command_is_pid_1(rootfs: Rootfs) -> None:
    assert run_capture(rootfs.spec("sh", "-c", "echo $$")) == (0, "1\n")


def test_hostname_is_set_and_host_keeps_its_own(rootfs: Rootfs) -> None:
    host = os.uname().nodename
    code, out = run_capture(rootfs.spec("sh", "-c", "hostname; echo $HOSTNAME", hostname="abc123def456"))
    assert (code, out) == (0, "abc123def456\nabc123def456\n")
    assert os.uname().nodename == host


def test_env_and_cwd_are_honoured(rootfs: Rootfs) -> None:
    spec = rootfs.spec("sh", "-c", 'echo "$FOO|$EMPTY|$PATH|$HOME"; pwd', env=["FOO=a=b", "EMPTY="], cwd="/etc")
    code, out = run_capture(spec)
    assert code == 0
    assert out == "a=b||/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin|/root\n/etc\n"


def test_command_found_through_container_path(rootfs: Rootfs) -> None:
    (rootfs.merged / "opt").mkdir()
    (rootfs.merged / "opt" / "hello").write_text("#!/bin/sh\necho from opt\n")
    (rootfs.merged / "opt" / "hello").chmod(0o755)
    with pytest.raises(ContainerStartError):
        run_isolated(rootfs.spec("hello"))
    assert run_capture(rootfs.spec("hello", env=["PATH=/opt:/bin"])) == (0, "from opt\n")


def test_missing_cwd_is_a_clear_error(rootfs: Rootfs) -> None:
    with pytest.raises(ContainerStartError) as caught:
        run_isolated(rootfs.spec("true", cwd="/no/such/dir"))
    assert caught.value.exit_code == 125
    assert "working directory /no/such/dir: no such directory" in str(caught.value)


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ("", "0 0 0"),
        ("65534", "65534 65534 65534 50"),
        ("nobody", "65534 65534 65534 50"),
        ("nobody:staff", "65534 50 50"),
        ("1234:4321", "1234 4321 4321"),
    ],
)
def test_user_switching(rootfs: Rootfs, user: str, expected: str) -> None:
    code, out = run_capture(rootfs.spec("sh", "-c", "echo $(id -u) $(id -g) $(id -G)", user=user))
    assert (code, out) == (0, expected + "\n")


def test_unknown_user_name_is_a_setup_error(rootfs: Rootfs) -> None:
    with pytest.raises(ContainerStartError) as caught:
        run_isolated(rootfs.spec("true", user="ghost"))
    assert caught.value.exit_code == 125
    assert "unable to find user ghost" in str(caught.value)


def test_proc_is_the_containers(rootfs: Rootfs) -> None:
    code, out = run_capture(rootfs.spec("ps"))
    assert code == 0
    rows = out.splitlines()[1:]
    assert len(rows) == 1 and rows[0].split()[0] == "1", out


def test_dev_has_the_standard_nodes_only(rootfs: Rootfs) -> None:
    code, out = run_capture(rootfs.spec("sh", "-c", "ls /dev; echo x > /dev/null; cat /dev/null"))
    assert code == 0
    names = set(out.split())
    assert {"null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "fd", "ptmx"} <= names
    assert "sda" not in names and "vda" not in names and "kmsg" not in names


def test_sys_is_read_only(rootfs: Rootfs) -> None:
    code, out = run_capture(rootfs.spec("sh", "-c", "touch /sys/x 2>&1; ls /sys"))
    assert code == 0
    assert "Read-only file system" in out
    assert "kernel" in out.split()


def test_security_state_before_exec(rootfs: Rootfs) -> None:
    code, out = run_capture(rootfs.spec("cat", "/proc/self/status"))
    assert code == 0
    status = dict(line.split(":\t", 1) for line in out.splitlines() if ":\t" in line)
    assert status["NoNewPrivs"].strip() == "0"  # Docker's default: setuid binaries work
    assert status["Seccomp"].strip() == "2"
    assert status["CapBnd"].strip() == DOCKER_CAPBND
    # Python ignores SIGPIPE; the command must not inherit that.
    assert int(status["SigIgn"], 16) == 0
    assert int(status["SigBlk"], 16) == 0


def test_engine_fds_do_not_leak_into_the_container(rootfs: Rootfs, tmp_path: Path) -> None:
    leaked = os.open(tmp_path, os.O_RDONLY)
    os.set_inheritable(leaked, True)
    try:
        code, out = run_capture(rootfs.spec("ls", "/proc/self/fd"))
    finally:
        os.close(leaked)
    assert code == 0
    assert sorted(int(fd) for fd in out.split()) == [0, 1, 2, 3]  # 3 is ls's own directory fd


def test_bind_mounts(rootfs: Rootfs, tmp_path: Path) -> None:
    volume = tmp_path / "volume"
    volume.mkdir()
    (volume / "data").write_text("shared\n")
    config = tmp_path / "config"
    config.write_text("ro\n")
    mounts = [
        BindMount(str(volume), "/srv/volume"),
        BindMount(str(config), "/etc/app.conf", readonly=True),
    ]
    script = "cat /srv/volume/data /etc/app.conf; echo new > /srv/volume/out; echo x > /etc/app.conf || echo refused"
    code, out = run_capture(rootfs.spec("sh", "-c", script, mounts=mounts))
    assert code == 0
    assert out.startswith("shared\nro\n") and out.endswith("refused\n")
    assert (volume / "out").read_text() == "new\n"
    assert config.read_text() == "ro\n"


# The filesystem and the host


def test_writes_land_in_upper_not_lower(rootfs: Rootfs) -> None:
    before = tree(rootfs.lower)
    assert run_isolated(rootfs.spec("sh", "-c", "echo hi > /new; rm /bin/cat")) == 0
    assert tree(rootfs.lower) == before
    assert (rootfs.upper / "new").read_text() == "hi\n"
    whiteout = os.lstat(rootfs.upper / "bin" / "cat")
    assert stat.S_ISCHR(whiteout.st_mode) and whiteout.st_rdev == os.makedev(0, 0)
    assert not os.path.lexists(rootfs.merged / "bin" / "cat")


def test_host_mounts_unaffected(rootfs: Rootfs) -> None:
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        before = f.read()
    assert run_isolated(rootfs.spec("sh", "-c", "mount -t tmpfs none /tmp 2>/dev/null || mkdir /tmp2")) == 0
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        assert f.read() == before


def test_engine_thread_keeps_its_pid_namespace(rootfs: Rootfs) -> None:
    before = os.readlink("/proc/thread-self/ns/pid_for_children")
    run_isolated(rootfs.spec("true"))
    assert os.readlink("/proc/thread-self/ns/pid_for_children") == before
    assert subprocess.run(["true"], check=False).returncode == 0


def test_concurrent_containers_from_threads(rootfs: Rootfs) -> None:
    codes: list[int] = []

    def one(n: int) -> None:
        codes.append(run_isolated(rootfs.spec("sh", "-c", f"exit {n}")))

    threads = [threading.Thread(target=one, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(codes) == list(range(8))


def test_invalid_spec_is_rejected_before_fork(rootfs: Rootfs) -> None:
    with pytest.raises(InvalidArgument):
        run_isolated(rootfs.spec())
    with pytest.raises(InvalidArgument):
        run_isolated(rootfs.spec("true", cwd="relative"))
    with pytest.raises(InvalidArgument):
        run_isolated(rootfs.spec("true", capabilities=frozenset({"NOT_A_CAP"})))


# The engine process dying or being interrupted

_HOLDER = """
import os, signal, sys
from engine.runtime.process import ProcessSpec, start, run_isolated
spec = ProcessSpec(rootfs=sys.argv[1], argv=["sleep", "100"])
process = start(spec)
try:
    print(process.pid, flush=True)
    process.wait()
except KeyboardInterrupt:
    process.kill()
    process.wait()
    print("interrupted", flush=True)
    sys.exit(130)
"""


def _holder(rootfs: Rootfs) -> tuple[subprocess.Popen[str], int]:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(rootfs.merged)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": REPO},
    )
    assert holder.stdout is not None
    return holder, int(holder.stdout.readline())


def test_container_dies_with_the_engine(rootfs: Rootfs) -> None:
    holder, pid = _holder(rootfs)
    try:
        assert process_alive(pid)
        holder.kill()
        holder.wait()
        assert wait_until(lambda: not process_alive(pid))
    finally:
        holder.kill()
        holder.wait()


def test_ctrl_c_kills_the_container(rootfs: Rootfs) -> None:
    holder, pid = _holder(rootfs)
    try:
        holder.send_signal(signal.SIGINT)
        assert holder.wait(timeout=5) == 130
        assert not process_alive(pid)
    finally:
        holder.kill()
        holder.wait()


def test_run_isolated_kills_on_interrupt(rootfs: Rootfs) -> None:
    script = (
        "import signal, sys, threading\n"
        "from engine.runtime.process import ProcessSpec, run_isolated\n"
        "main = threading.get_ident()\n"
        "threading.Timer(0.3, signal.pthread_kill, (main, signal.SIGINT)).start()\n"
        "try:\n"
        "    run_isolated(ProcessSpec(rootfs=sys.argv[1], argv=['sleep', '100']))\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(rootfs.merged)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": REPO},
        timeout=60,  # interrupted, not waited for: sleep 100 would take 100 s
    )
    assert done.stdout == "interrupted\n", done.stderr
    assert not container_sleeps()


def container_sleeps() -> list[int]:
    """Pids of ``sleep 100`` processes living in some other pid namespace than ours."""
    ours = os.readlink("/proc/self/ns/pid")
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if f.read() != b"sleep\x00100\x00":
                    continue
            if os.readlink(f"/proc/{entry}/ns/pid") != ours and process_alive(int(entry)):
                found.append(int(entry))
        except (OSError, ValueError):
            continue
    return found


# Overlay mounts


def test_mount_overlay_with_cwd_keeps_process_cwd(store_root: Path) -> None:
    for name in ("l/a", "l/b", "up", "wk", "mnt"):
        (store_root / name).mkdir(parents=True)
    (store_root / "l/a/top").write_text("a")
    (store_root / "l/b/top").write_text("b")
    (store_root / "l/b/bottom").write_text("b")
    here = os.getcwd()
    mount_overlay(["l/a", "l/b"], "up", "wk", "mnt", cwd=str(store_root))
    try:
        assert os.getcwd() == here
        assert (store_root / "mnt/top").read_text() == "a"
        assert (store_root / "mnt/bottom").read_text() == "b"
        (store_root / "mnt/written").write_text("w")
        assert (store_root / "up/written").exists()
    finally:
        unmount(str(store_root / "mnt"))
    assert not (store_root / "mnt/top").exists()


@pytest.mark.parametrize("count", [1, 2])
def test_mount_overlay_ro(store_root: Path, count: int) -> None:
    lowers = []
    for n in range(count):
        lower = store_root / f"lower{n}"
        lower.mkdir()
        (lower / f"file{n}").write_text(str(n))
        lowers.append(str(lower))
    target = store_root / "view"
    target.mkdir()
    mount_overlay_ro(lowers, str(target))
    try:
        assert sorted(os.listdir(target)) == [f"file{n}" for n in range(count)]
        with pytest.raises(OSError) as caught:
            (target / "new").write_text("x")
        assert caught.value.errno == errno.EROFS
    finally:
        unmount(str(target))


def test_mount_overlay_failure_is_a_mount_error(store_root: Path) -> None:
    (store_root / "mnt").mkdir()
    with pytest.raises(MountError, match="cannot mount overlay"):
        mount_overlay([str(store_root / "missing")], str(store_root), str(store_root), str(store_root / "mnt"))


def test_overlay_options() -> None:
    assert overlay_options(["l/A", "l/B"], "d/diff", "d/work") == "lowerdir=l/A:l/B,upperdir=d/diff,workdir=d/work"
    assert overlay_options(["/a:b,c"]) == "lowerdir=/a\\:b\\,c"
    with pytest.raises(MountError, match="over the kernel"):
        overlay_options(["x" * 2000, "y" * 2000, "z" * 200])
    with pytest.raises(MountError):
        overlay_options([])


def test_unmount_of_a_plain_directory_is_quiet(tmp_path: Path) -> None:
    unmount(str(tmp_path))


def test_resolve_in_root_stays_inside(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "proc").symlink_to("/etc")
    (root / "up").symlink_to("../../../..")
    (root / "loop").symlink_to("loop")
    assert resolve_in_root(str(root), "/proc") == str(root / "etc")
    assert resolve_in_root(str(root), "/up/etc/passwd") == str(root / "etc" / "passwd")
    assert resolve_in_root(str(root), "/../../x") == str(root / "x")
    with pytest.raises(OSError) as caught:
        resolve_in_root(str(root), "/loop/x")
    assert caught.value.errno == errno.ELOOP


def test_signal_state_reset_when_started_from_a_thread(rootfs: Rootfs) -> None:
    result: list[tuple[int, str]] = []
    worker = threading.Thread(target=lambda: result.append(run_capture(rootfs.spec("cat", "/proc/self/status"))))
    worker.start()
    worker.join()
    code, out = result[0]
    status = dict(line.split(":\t", 1) for line in out.splitlines() if ":\t" in line)
    assert code == 0
    assert int(status["SigIgn"], 16) == 0 and int(status["SigBlk"], 16) == 0
