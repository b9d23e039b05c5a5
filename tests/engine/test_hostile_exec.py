"""``exec`` as a hostile container would use it: nothing of the caller's (files, terminal, session) reaches it.

Docker 20.10 + runc hand an exec'd process pipes (or its own pty) and a new session; the CLI copies bytes.
Each probe here got through before berth did the same: the process held the caller's own fds 0-2 (so
``chmod /proc/self/fd/1`` re-moded a host file, ``> /proc/self/fd/0`` truncated one) and stayed in the
caller's session (``/dev/tty`` was the admin's terminal, open to TIOCSTI).
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import stat
import subprocess
import sys
import termios
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine import containers_fixtures
from tests.engine.test_crash import REPO
from tests.engine.test_hostile import canary  # noqa: F401

cengine = containers_fixtures.cengine


def _cli(store_root: Path, *argv: str) -> list[str]:
    return [sys.executable, "-m", "tui.cli", "--root", str(store_root), *argv]


def _berth(store_root: Path, *argv: str, **kw: object) -> subprocess.CompletedProcess[bytes]:
    kw.setdefault("capture_output", True)
    return subprocess.run(_cli(store_root, *argv), timeout=60, cwd=REPO, **kw)  # type: ignore[call-overload]


@pytest.fixture
def box(cengine, store_root: Path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A running busybox container named ``box``."""
    done = _berth(store_root, "run", "-d", "--name", "box", "--network", "none", "busybox", "sleep", "1000")
    assert done.returncode == 0, done.stderr
    yield "box"


def test_exec_cannot_chmod_the_file_its_stdout_goes_to(box, store_root: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                       canary: Path) -> None:  # noqa: F811
    out, err = tmp_path / "out", tmp_path / "err"
    with open(out, "wb") as o, open(err, "wb") as e, open(canary / "secret", "rb") as extra:
        # A host fd beyond 0-2 in the CLI (inheritable): it must not get into the container either.
        done = subprocess.run(_cli(store_root, "exec", box, "sh", "-c",
                                   "chmod 4755 /proc/self/fd/1 /proc/self/fd/2; ls /proc/self/fd/ >&2; "
                                   f"cat /proc/self/fd/{extra.fileno()} >&2; "
                                   "head -c 300000 /dev/zero; echo to-stderr >&2; exit 5"),
                              stdin=subprocess.DEVNULL, stdout=o, stderr=e, pass_fds=(extra.fileno(),),
                              cwd=REPO, timeout=60)
    assert done.returncode == 5
    for path in (out, err):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, f"{path.name} was re-moded through /proc/self/fd"
    assert out.read_bytes() == b"\0" * 300000  # stdout and stderr stay apart, all of it copied
    lines = err.read_text().splitlines()
    assert lines[:4] == ["0", "1", "2", "3"], lines  # 3 is ls's own directory fd
    assert lines[-1] == "to-stderr" and "do not touch" not in err.read_text()


def test_exec_i_cannot_write_the_file_its_stdin_comes_from(box, store_root: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                          canary: Path) -> None:  # noqa: F811
    source = canary / "secret"
    before = source.read_bytes()
    with open(source, "rb") as f:
        done = _berth(store_root, "exec", "-i", box, "sh", "-c",
                      "wc -c; echo x > /proc/self/fd/0; chmod 4755 /proc/self/fd/0; echo err >&2; exit 3", stdin=f)
    assert done.returncode == 3, done.stderr
    assert (done.stdout.split(), done.stderr) == ([str(len(before)).encode()], b"err\n")
    assert source.read_bytes() == before  # the canary also checks its mode
    # Without -i the command reads the container's /dev/null, not the caller's stdin.
    with open(source, "rb") as f:
        done = _berth(store_root, "exec", box, "sh", "-c", "readlink /proc/self/fd/0; wc -c", stdin=f)
    assert done.stdout.split() == [b"/dev/null", b"0"], done


def test_exec_d_gets_none_of_the_callers_fds(box, store_root: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    with open(out, "wb") as o:
        done = _berth(store_root, "exec", "-d", box, "sh", "-c",
                      "chmod 4755 /proc/self/fd/1; l=$(for i in 0 1 2; do readlink /proc/$$/fd/$i; done); "
                      "echo $l > /tmp/links; "
                      "cut -d' ' -f7 /proc/self/stat > /tmp/tty; echo hi; touch /tmp/done",
                      stdout=o, stderr=subprocess.PIPE, capture_output=False)
    assert done.returncode == 0, done.stderr
    deadline = time.monotonic() + 30
    while _berth(store_root, "exec", box, "test", "-e", "/tmp/done").returncode != 0:
        assert time.monotonic() < deadline, "exec -d never ran"
        time.sleep(0.05)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644 and out.read_bytes() == b""
    links = _berth(store_root, "exec", box, "cat", "/tmp/links", "/tmp/tty").stdout.decode().split()
    assert links == ["/dev/null"] * 3 + ["0"], links


def _admin_terminal(argv: list[str]) -> tuple[int, bytes, bytes]:
    """Run ``argv`` with a fresh pty as its controlling terminal and stdio, as an admin's shell would.

    Returns (exit status, what it printed, what sat in the terminal's input queue afterwards: keys that
    would have gone to the admin's shell).
    """
    master, slave = pty.openpty()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(master)
            os.setsid()
            fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
            for fd in (0, 1, 2):
                os.dup2(slave, fd)
            os.chdir(REPO)
            os.execve(argv[0], argv, {**os.environ, "PYTHONPATH": REPO})
        finally:
            os._exit(127)
    out = b""
    deadline = time.monotonic() + 60
    try:
        while True:
            if time.monotonic() > deadline:
                os.kill(pid, 9)
            if select.select([master], [], [], 0.1)[0]:
                out += os.read(master, 65536)
                continue
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
        while select.select([master], [], [], 0)[0]:
            out += os.read(master, 65536)
        os.set_blocking(slave, False)
        try:
            queued = os.read(slave, 4096)
        except BlockingIOError:
            queued = b""
    finally:
        os.close(master)
        os.close(slave)
    return os.waitstatus_to_exitcode(status), out, queued


# Runs inside the container (the host's python, bound read-only): tries every way to the admin's terminal.
_PROBE = textwrap.dedent("""
    import errno, fcntl, json, os, termios
    tried = {}
    def inject(name, fd):
        try:
            for ch in b"touch /tmp/pwned\\n":
                fcntl.ioctl(fd, termios.TIOCSTI, bytes([ch]))
            tried[name] = "injected"
        except OSError as err:
            tried[name] = errno.errorcode[err.errno]
    for fd in (0, 1, 2):
        inject(f"fd{fd}", fd)
    try:
        inject("/dev/tty", os.open("/dev/tty", os.O_RDWR))
    except OSError as err:
        tried["/dev/tty"] = "open: " + errno.errorcode[err.errno]
    stat = open("/proc/self/stat").read().rsplit(")", 1)[1].split()
    tried["links"] = [os.readlink(f"/proc/self/fd/{fd}") for fd in (0, 1, 2)]
    tried["own session"] = os.getsid(0) == os.getpid()
    tried["tty_nr"] = int(stat[4])
    print("PROBE" + json.dumps(tried))
""")


def _python_binds() -> list[str]:
    """``-v`` flags that let the busybox container run the host's /usr/bin/python3."""
    binds = ["/usr", "/lib64", "/lib/x86_64-linux-gnu"]
    if not os.path.exists("/usr/bin/python3") or not all(os.path.isdir(p) for p in binds):
        pytest.skip("needs the host's /usr/bin/python3 on Debian's x86_64 layout")
    return [arg for path in binds for arg in ("-v", f"{os.path.realpath(path)}:{path}:ro")]


def _probe_result(out: bytes) -> dict[str, object]:
    line = next(line for line in out.decode(errors="replace").splitlines() if line.startswith("PROBE"))
    return json.loads(line[len("PROBE"):])


def test_exec_cannot_reach_the_admins_terminal(cengine, store_root: Path) -> None:  # type: ignore[no-untyped-def]
    done = _berth(store_root, "run", "-d", "--name", "py", "--network", "none", *_python_binds(), "busybox",
                  "/bin/sleep", "1000")
    assert done.returncode == 0, done.stderr
    for flags in ((), ("-i",)):
        status, out, queued = _admin_terminal(_cli(store_root, "exec", *flags, "py", "/usr/bin/python3", "-c",
                                                   _PROBE))
        assert status == 0, out
        assert queued == b"", f"exec {flags} typed into the admin's shell: {queued!r}"
        probe = _probe_result(out)
        assert probe.pop("/dev/tty") == "open: ENXIO", probe  # no controlling terminal at all
        assert probe.pop("own session") is True and probe.pop("tty_nr") == 0, probe
        links = probe.pop("links")
        assert isinstance(links, list) and links[0].startswith("pipe:" if flags else "/dev/null"), links
        assert all(link.startswith("pipe:") for link in links[1:]), links
        assert probe == {"fd0": "ENOTTY", "fd1": "ENOTTY", "fd2": "ENOTTY"}, probe
    # -t: its own pty of the container's devpts; keys it injects there reach only itself.
    status, out, queued = _admin_terminal(_cli(store_root, "exec", "-t", "py", "/usr/bin/python3", "-c", _PROBE))
    assert status == 0 and queued == b"", (out, queued)
    probe = _probe_result(out)
    assert probe["links"] == ["/dev/pts/0"] * 3 and probe["own session"] is True, probe


def test_exec_with_busybox_only_has_no_terminal_and_its_own_session(box, store_root: Path) -> None:  # type: ignore[no-untyped-def]
    """The same, proved with what the image holds: no /dev/tty, session leader, no tty_nr, pipes."""
    script = ("sh -c 'exec 3</dev/tty' 2>/dev/null && echo tty-opened || echo no-tty; "
              "echo $$ $(cut -d' ' -f6,7 /proc/self/stat); readlink /proc/self/fd/1; readlink /proc/self/fd/2")
    status, out, queued = _admin_terminal(_cli(store_root, "exec", "-i", box, "sh", "-c", script))
    lines = out.decode().replace("\r", "").splitlines()
    assert status == 0 and queued == b"", out
    assert lines[0] == "no-tty", lines
    pid, sid, tty_nr = lines[1].split()
    assert pid == sid and tty_nr == "0", lines  # its own session leader, no controlling terminal
    assert all(line.startswith("pipe:") for line in lines[2:4]), lines


# Item 8: the engine itself runs chrooted (a debootstrap'd chroot, a build container). The container's
# mount namespace then keeps the host's tree at its root, and setns alone would land exec there.
_IN_CHROOT = textwrap.dedent("""
    import os, sys, json
    sys.path.insert(0, sys.argv[1])
    from engine.kernel import syscalls
    store, jail = sys.argv[2], sys.argv[3]
    from engine.runtime import rootfs
    syscalls.unshare(syscalls.CLONE_NEWNS)
    rootfs.make_mounts_private("/proc")  # (this suite may itself run in a chroot whose / is no mount)
    syscalls.mount("/", jail, None, syscalls.MS_BIND | syscalls.MS_REC)
    os.chroot(jail)
    os.chdir("/")
    from engine import Engine
    from engine.containers import CreateOptions
    from tests.engine.containers_fixtures import stop_monitor
    engine = Engine(store)
    r, w = os.pipe()
    try:
        cid = engine.container_create(CreateOptions(image="busybox", cmd=("sleep", "100"), network="none"))
        engine.container_start(cid)
        code = engine.container_exec(cid, ["sh", "-c",
            "cat /etc/hostname; tr '\\\\0' ' ' < /proc/1/cmdline; echo; ls /dev/pts | tr '\\\\n' ' '; echo; "
            "test -d /work && echo host-root || echo container-root; pwd; id -u"],
            workdir="/etc", user="65534", stdout=w, stderr=w)
        os.close(w)
        print(json.dumps({"cid": cid, "code": code, "out": os.read(r, 65536).decode()}))
    finally:
        for c in engine.container_list(all=True):
            engine.container_remove(c.id, force=True)
        stop_monitor(engine)
""")


def test_exec_enters_the_containers_root_when_the_engine_runs_chrooted(cengine, store_root: Path,  # type: ignore[no-untyped-def]
                                                                       tmp_path: Path) -> None:
    jail = tmp_path / "jail"
    jail.mkdir()
    host_pty = pty.openpty()  # so the host's devpts has an entry the container's must not show
    try:
        done = subprocess.run([sys.executable, "-c", _IN_CHROOT, REPO, str(store_root), str(jail)],
                              capture_output=True, text=True, timeout=120, cwd=REPO)
    finally:
        for fd in host_pty:
            os.close(fd)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    lines = result["out"].splitlines()
    assert result["code"] == 0, lines
    assert lines[0] == result["cid"][:12], lines  # the container's /etc/hostname
    assert lines[1].strip() == "sleep 100", lines  # its /proc: pid 1 is its init
    assert lines[2].split() == ["ptmx"], lines  # its devpts: no host terminal in it
    assert lines[3:6] == ["container-root", "/etc", "65534"], lines
    assert not os.path.ismount(jail) and not os.listdir(jail)
