"""``-t`` on real containers: the pty comes from the container's own devpts, with the caller's window size."""

from __future__ import annotations

import os
import pty
import threading

from engine.containers import CreateOptions
from engine.runtime.pty import get_window_size, set_window_size
from tests.engine import containers_fixtures

cengine = containers_fixtures.cengine

_PROBE = "tty; test -t 0 && echo stdin-is-a-tty; stty size; ls -1 /dev/pts; cat /proc/self/stat | cut -d' ' -f7"


def _run_tty(engine, script: str, size: tuple[int, int] | None) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    cid = engine.container_create(CreateOptions(image="busybox", cmd=("sh", "-c", script), tty=True, network="none"))
    attachment = engine.container_start(cid, attach=True, console_size=size)
    assert attachment is not None  # its terminal may be gone already: the output is in the log either way
    text = "".join(e.log for e in attachment.entries())
    attachment.close()
    return int(attachment.exit_code), text.replace("\r\n", "\n")


def test_run_t_sees_its_own_devpts_terminal_with_the_given_size(cengine) -> None:  # type: ignore[no-untyped-def]
    code, text = _run_tty(cengine, _PROBE, (33, 101))
    lines = text.splitlines()
    assert code == 0, text
    assert lines[0] == "/dev/pts/0", text  # the container's devpts numbers from 0, the host's never shows
    assert lines[1] == "stdin-is-a-tty"
    assert lines[2] == "33 101"
    assert lines[3:5] == ["0", "ptmx"]  # only its own pty in its /dev/pts
    assert lines[5] != "0"  # tty_nr of /proc/self/stat: a controlling terminal is set


def test_run_t_window_size_follows_resizes(cengine) -> None:  # type: ignore[no-untyped-def]
    cid = cengine.container_create(CreateOptions(
        image="busybox", tty=True, network="none",
        cmd=("sh", "-c", "trap 'stty size; exit 0' WINCH; echo ready; while :; do sleep 0.05; done")))
    attachment = cengine.container_start(cid, attach=True, console_size=(10, 20))
    assert attachment is not None and attachment.terminal is not None
    entries = attachment.entries()
    seen = ""
    for entry in entries:
        seen += entry.log
        if "ready" in seen and "ready" in entry.log:
            assert get_window_size(attachment.terminal) == (10, 20)
            set_window_size(attachment.terminal, 40, 120)
    attachment.close()
    assert "40 120" in seen and attachment.exit_code == 0, seen


def test_exec_t_gets_a_terminal_inside_the_container(cengine) -> None:  # type: ignore[no-untyped-def]
    cid = cengine.container_create(CreateOptions(image="busybox", cmd=("sleep", "100"), tty=True, network="none"))
    cengine.container_start(cid)
    master, slave = pty.openpty()  # stands for the user's terminal
    set_window_size(slave, 17, 71)
    out_r, out_w = os.pipe()
    chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: chunks.extend(iter(lambda: os.read(out_r, 4096), b"")))
    reader.start()
    try:
        code = cengine.container_exec(cid, ["sh", "-c", _PROBE + "; exit 4"], tty=True, stdin=slave, stdout=out_w)
    finally:
        os.close(out_w)
        reader.join()
        for fd in (out_r, master, slave):
            os.close(fd)
    lines = b"".join(chunks).decode().replace("\r\n", "\n").splitlines()
    assert code == 4
    # pts/0 is the init's; the exec'd command gets the next one of the *container's* devpts.
    assert lines[:3] == ["/dev/pts/1", "stdin-is-a-tty", "17 71"], lines
    assert lines[3:6] == ["0", "1", "ptmx"]


def test_exec_t_of_a_missing_command_is_127(cengine) -> None:  # type: ignore[no-untyped-def]
    from engine.errors import ContainerStartError

    cid = cengine.container_create(CreateOptions(image="busybox", cmd=("sleep", "100"), network="none"))
    cengine.container_start(cid)
    null = os.open(os.devnull, os.O_RDWR)
    try:
        try:
            cengine.container_exec(cid, ["no-such-command"], tty=True, stdin=null, stdout=null)
        except ContainerStartError as err:
            assert err.exit_code == 127 and "executable file not found" in str(err)
        else:
            raise AssertionError("exec of a missing command succeeded")
    finally:
        os.close(null)
