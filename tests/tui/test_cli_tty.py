"""``berth run -t`` / ``exec -t`` from a real terminal: the command sees a tty of the container's own devpts."""

from __future__ import annotations

import os
import pty
import select
import sys

from engine.runtime.pty import set_window_size
from tests.engine import containers_fixtures

cengine = containers_fixtures.cengine

# Off the default bridge: these tests are about terminals, not networks.
_RUN = ("run", "--network", "none")
_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _in_terminal(store_root, *argv: str, rows: int = 33, cols: int = 101) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    """Run ``berth ARGV`` on a fresh pty of the given size, as a user at a terminal would: (status, output)."""
    pid, master = pty.fork()
    if pid == 0:
        os.chdir(_REPO)
        os.execve(sys.executable, [sys.executable, "-m", "tui.cli", "--root", str(store_root), *argv],
                  {**os.environ, "PYTHONPATH": _REPO})
    set_window_size(master, rows, cols)
    out = b""
    try:
        while select.select([master], [], [], 30)[0]:
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO: the child and its terminal are gone
                break
            if not data:
                break
            out += data
    finally:
        os.close(master)
        _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), out.decode(errors="replace").replace("\r", "")


def test_run_t_prints_its_tty_and_size(cengine, store_root) -> None:  # type: ignore[no-untyped-def]
    status, out = _in_terminal(store_root, *_RUN, "--rm", "-t", "busybox", "sh", "-c",
                               "tty; test -t 0 && echo yes; stty size; exit 3")
    assert status == 3, out
    assert out.splitlines()[:3] == ["/dev/pts/0", "yes", "33 101"], out
    status, out = _in_terminal(store_root, *_RUN, "--rm", "-t", "busybox", "tty")
    assert (status, out.strip()) == (0, "/dev/pts/0")
    status, out = _in_terminal(store_root, *_RUN, "--rm", "busybox", "tty")  # no -t: no terminal, as in Docker
    assert (status, out.strip()) == (1, "not a tty")


def test_exec_t_prints_its_tty_and_size(cengine, store_root, berth) -> None:  # type: ignore[no-untyped-def]
    status, out, err = berth(*_RUN, "-dt", "--name", "box", "busybox", "sh")
    assert status == 0, err
    status, out = _in_terminal(store_root, "exec", "-t", "box", "sh", "-c", "tty; stty size", rows=12, cols=34)
    assert (status, out.splitlines()) == (0, ["/dev/pts/1", "12 34"]), out
    status, out = _in_terminal(store_root, "exec", "box", "tty")
    assert (status, out.strip()) == (1, "not a tty")


def test_exec_t_follows_the_terminal_when_it_is_resized(cengine, store_root, berth) -> None:  # type: ignore[no-untyped-def]
    assert berth(*_RUN, "-d", "--name", "box", "busybox", "sleep", "100")[0] == 0
    pid, master = pty.fork()
    if pid == 0:
        os.chdir(_REPO)
        os.execve(sys.executable, [sys.executable, "-m", "tui.cli", "--root", str(store_root), "exec", "-t", "box",
                                   "sh", "-c", ("trap 'stty size; exit 0' WINCH; echo ready; "
                                   "while :; do sleep 0.05; done")], {**os.environ, "PYTHONPATH": _REPO})
    set_window_size(master, 20, 60)
    out = b""
    try:
        while select.select([master], [], [], 30)[0]:
            try:
                data = os.read(master, 4096)
            except OSError:
                break
            if not data:
                break
            if b"ready" not in out and b"ready" in out + data:
                set_window_size(master, 44, 132)  # the kernel sends berth SIGWINCH, as a terminal emulator would
            out += data
    finally:
        os.close(master)
        _, status = os.waitpid(pid, 0)
    text = out.decode(errors="replace").replace("\r", "")
    assert os.waitstatus_to_exitcode(status) == 0 and text.splitlines() == ["ready", "44 132"], text
