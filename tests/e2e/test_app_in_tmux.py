"""The real ``berth`` app in a real terminal (tmux), driven as a user drives it."""

from __future__ import annotations

import contextlib
import re
import shlex
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.errors import BerthError

REPO = Path(__file__).resolve().parents[2]


class Terminal:
    """One detached tmux session of a fixed size."""

    def __init__(self, name: str) -> None:
        self.name = name

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, *keys], check=True)

    def screen(self) -> str:
        return subprocess.run(["tmux", "capture-pane", "-p", "-t", self.name],
                              capture_output=True, text=True).stdout

    def wait_for(self, text: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.05)
        raise AssertionError(f"{text!r} never appeared; the screen was:\n{self.screen()}")

    def escapes(self) -> list[str]:
        """The SGR sequences (colours, bold) on screen now."""
        out = subprocess.run(["tmux", "capture-pane", "-e", "-p", "-t", self.name],
                             capture_output=True, text=True).stdout
        return re.findall(r"\x1b\[([0-9;]*)m", out)

    def type_until(self, line: str, answer: str) -> None:
        """Type ``line`` and Enter until ``answer`` shows: keys sent before a handed-over terminal is read are lost."""
        for attempt in range(10):
            self.keys(line, "Enter")
            try:
                self.wait_for(answer, timeout=2)
                return
            except AssertionError:
                if attempt == 9:
                    raise

    def alive(self) -> bool:
        return subprocess.run(["tmux", "has-session", "-t", self.name], capture_output=True).returncode == 0


@contextlib.contextmanager
def open_terminal(store_root: Path, env: str = "TERM=xterm-256color") -> Iterator[Terminal]:
    """The app in a new 80×24 tmux session with ``env``; the session is killed on the way out."""
    name = f"berth-e2e-{uuid.uuid4().hex[:8]}"
    command = shlex.join([sys.executable, "-m", "tui.cli", "--root", str(store_root)])
    # The shell stays behind the app so the test can see it quit.
    subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", "80", "-y", "24", "-c", str(REPO),
                    f"env {env} {command}; echo berth-exited-$?; sleep 30"], check=True)
    try:
        yield Terminal(name)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)


@pytest.fixture
def terminal(store_root: Path) -> Iterator[Terminal]:
    with open_terminal(store_root) as term:
        yield term


def stop_and_remove(terminal: Terminal, name: str) -> None:
    """On panel 3 with ``name`` under the cursor: x stops it, d asks, y removes it; the panel is then empty."""
    terminal.keys("x")
    terminal.wait_for("Exited (", timeout=30)
    terminal.keys("d")
    terminal.wait_for(f"Remove container {name}?")
    terminal.keys("y")
    terminal.wait_for("No containers yet")


def test_app_shows_real_images_and_quits_on_q(engine, busybox_tar: Path, terminal: Terminal) -> None:
    with open(busybox_tar, "rb") as f:
        image_id = engine.image_import(f, source_name="rootfs.tar", ref="seed/xenial:16.04")
    screen = terminal.wait_for("seed/xenial")
    assert image_id[7:19] in screen and "16.04" in screen
    terminal.wait_for("q Quit")  # the footer follows focus, which moves to the table once it has rows
    terminal.keys("q")
    assert "berth-exited-0" in terminal.wait_for("berth-exited-")


def test_empty_store_bootstrap_key(terminal: Terminal) -> None:
    terminal.wait_for("No images in this store yet")
    terminal.keys("b")
    screen = terminal.wait_for("busybox  ", timeout=30)
    assert "latest" in screen
    terminal.keys("q")
    terminal.wait_for("berth-exited-0")


def test_number_keys_help_and_quit(engine, terminal: Terminal) -> None:
    from tests.tui.test_app import make_fixed_store

    make_fixed_store(engine)
    terminal.wait_for("web ")
    terminal.keys("Enter")
    assert "efficiency 100.0%" in terminal.wait_for("efficiency")
    terminal.keys("3")
    terminal.wait_for("No containers yet")
    terminal.keys("4")
    assert "Build Cache" in terminal.wait_for("Local Volumes")
    terminal.keys("5")
    terminal.wait_for("Choose a container in panel 3")
    terminal.keys("?")
    screen = terminal.wait_for("berth keys")
    assert "Quit (asks first while a build or a pull runs)" in screen
    terminal.keys("Escape")
    terminal.wait_for("5 Logs")
    terminal.keys("Tab")  # Logs → Images
    terminal.wait_for("REPOSITORY")
    terminal.keys("q")
    assert "berth-exited-0" in terminal.wait_for("berth-exited-")


def test_run_watch_log_stop_and_remove(engine, terminal: Terminal) -> None:
    from engine.containers.options import CreateOptions

    engine.image_bootstrap("busybox:latest")
    terminal.wait_for("busybox")
    terminal.keys("3")
    terminal.wait_for("No containers yet")
    # As `berth run -d` in another terminal: the panel shows it on its own.
    cid = engine.container_create(CreateOptions(image="busybox:latest", name="e2e-tick",
                                                cmd=("sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); "
                                                     "sleep 0.2; done")))
    try:
        engine.container_start(cid)
        terminal.wait_for("e2e-tick")  # may show as Created first, then
        assert "e2e-tick" in terminal.wait_for("Up ")
        terminal.keys("l")
        terminal.wait_for("tick 3")
        terminal.keys("3")
        terminal.wait_for("CONTAINER ID")
        stop_and_remove(terminal, "e2e-tick")
        assert engine.container_list(all=True) == []
        terminal.keys("q")
        terminal.wait_for("berth-exited-0")
    finally:
        with contextlib.suppress(BerthError):  # the test removed it already
            engine.container_remove(cid, force=True)


def test_attach_to_a_terminal_container_and_detach(engine, terminal: Terminal) -> None:
    """`a` on panel 3 hands the terminal to a -t container; ctrl-p ctrl-q gives it back, the container runs on."""
    from engine.containers.options import CreateOptions

    engine.image_bootstrap("busybox:latest")
    cid = engine.container_create(CreateOptions(image="busybox:latest", name="e2e-tty", tty=True, open_stdin=True,
                                                network="none", cmd=("sh",)))
    try:
        engine.container_start(cid)
        terminal.wait_for("busybox")
        terminal.keys("3")
        terminal.wait_for("Up ")
        terminal.keys("a")
        terminal.wait_for("attached to e2e-tty")
        # Keys typed before the attach reads the terminal go to the line discipline, not the shell: type again.
        terminal.type_until("echo typed-$((6*7))", "typed-42")
        terminal.keys("C-p", "C-q")
        terminal.wait_for("e2e-tty: detached")  # back in the app
        assert engine.container_inspect(cid)["State"]["Running"]
        terminal.keys("q")
        terminal.wait_for("berth-exited-0")
    finally:
        engine.container_remove(cid, force=True)


def test_attach_to_output_and_ctrl_c_only_detaches(engine, terminal: Terminal) -> None:
    """Without -t, `a` shows the output; Ctrl-C comes back to the app and leaves the container running."""
    from engine.containers.options import CreateOptions

    engine.image_bootstrap("busybox:latest")
    cid = engine.container_create(CreateOptions(image="busybox:latest", name="e2e-out", network="none",
                                                cmd=("sh", "-c", "i=0; while true; do echo out-$i; i=$((i+1)); "
                                                     "sleep 0.2; done")))
    try:
        engine.container_start(cid)
        terminal.wait_for("busybox")
        terminal.keys("3")
        terminal.wait_for("Up ")
        terminal.keys("a")
        terminal.wait_for("attached to e2e-out")
        terminal.wait_for("out-")
        terminal.keys("C-c")
        terminal.wait_for("e2e-out: detached")
        time.sleep(0.5)
        assert engine.container_inspect(cid)["State"]["Running"]
        terminal.keys("q")
        terminal.wait_for("berth-exited-0")
    finally:
        engine.container_remove(cid, force=True)


def test_run_dialog_interactive_gets_the_terminal_and_rm_removes(engine, terminal: Terminal) -> None:
    """R, a command, "Interactive here" and "Remove on exit": the shell answers here; exiting it comes back."""
    engine.image_bootstrap("busybox:latest")
    terminal.wait_for("busybox")
    time.sleep(0.3)  # the first image's row takes the focus from the empty panel a frame after it is drawn
    terminal.keys("R")
    assert "▐ ▌ Interactive here" in terminal.wait_for("Interactive here")  # unticked
    time.sleep(0.5)  # the dialog focuses its first field once drawn
    terminal.keys("e2e-it")
    terminal.wait_for("e2e-it")
    terminal.keys("Tab")
    time.sleep(0.3)  # keys sent in one burst with Tab reach the field that had focus before it moved
    terminal.keys("sh")
    for key in ["Tab"] * 6 + ["Space", "Tab", "Space"]:  # env, volumes, ports, memory, cpus, the two boxes
        terminal.keys(key)
        time.sleep(0.3)  # Textual moves focus after the key: a burst would type into the field it left
    terminal.wait_for("▐X▌ Interactive here (-it)   ▐X▌ Remove on exit")  # both ticked, as a mark
    terminal.keys("C-s")
    terminal.wait_for("running e2e-it here")
    terminal.type_until("echo typed-$((6*7))", "typed-42")
    assert engine.container_inspect("e2e-it")["Config"]["Tty"] is True
    terminal.keys("exit 3", "Enter")
    terminal.wait_for("e2e-it: exited (3)")  # back in the app
    deadline = time.monotonic() + 10
    while engine.container_list(all=True) and time.monotonic() < deadline:  # --rm: the monitor removes it
        time.sleep(0.1)
    assert engine.container_list(all=True) == []
    terminal.keys("q")
    terminal.wait_for("berth-exited-0")


def _colours(sgr: list[str]) -> list[str]:
    """Foreground/background colour parameters in SGR sequences: "38;5;N", "48;2;R;G;B", "91", …"""
    found = []
    for seq in sgr:
        parts = seq.split(";")
        i = 0
        while i < len(parts):
            if parts[i] in ("38", "48") and i + 1 < len(parts):
                width = 3 if parts[i + 1] == "5" else 5
                found.append(";".join(parts[i:i + width]))
                i += width
                continue
            if parts[i].isdigit() and (30 <= int(parts[i]) <= 37 or 40 <= int(parts[i]) <= 47
                                       or 90 <= int(parts[i]) <= 107):
                found.append(parts[i])
            i += 1
    return found


@pytest.mark.parametrize("env, palette", [
    ("TERM=linux", "16"),
    ("TERM=xterm-256color TEXTUAL_COLOR_SYSTEM=standard", "16"),
    ("TERM=xterm-256color NO_COLOR=1", "grey"),
])
def test_sixteen_colours_and_no_color(engine, store_root: Path, env: str, palette: str) -> None:
    """Over SSH on a console or with NO_COLOR: only the colours that terminal has; the current panel still shows."""
    engine.image_bootstrap("busybox:latest")
    with open_terminal(store_root, env) as term:
        term.wait_for("busybox")
        term.keys("3")
        term.wait_for("No containers yet")
        colours = _colours(term.escapes())
        assert colours, "the app drew no colour at all"
        if palette == "16":
            assert all(";" not in c for c in colours), colours  # no 256-colour or RGB sequences
        else:  # NO_COLOR: Textual draws in greys only
            assert all(c.startswith(("38;5;", "48;5;")) and int(c.split(";")[2]) >= 232 for c in colours), colours
        bar = next(line for line in term.screen().splitlines() if "1 Images" in line)
        assert "3 Containers" in bar
        # The current panel is marked by more than colour: bold, as the sequences before its label show.
        raw = subprocess.run(["tmux", "capture-pane", "-e", "-p", "-t", term.name], capture_output=True,
                             text=True).stdout
        marked = raw[: raw.index(" 3 Containers ")].rsplit("\x1b[0m", 1)[-1]
        assert "\x1b[1m" in marked, repr(marked)
        term.keys("q")
        term.wait_for("berth-exited-0")


def test_journey_build_run_watch_stop_remove_all_by_keys(engine, terminal: Terminal, tmp_path: Path) -> None:
    """The whole loop with keys only: build an image from a Dockerfile, run it, watch its log, stop, remove."""
    engine.image_bootstrap("busybox:latest")
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(
        "FROM busybox:latest\nRUN echo built-here > /built\n"
        'CMD ["sh", "-c", "i=0; while true; do echo journey $i $(cat /built); i=$((i+1)); sleep 0.2; done"]\n')
    terminal.wait_for("busybox")
    time.sleep(0.3)  # the first image's row takes the focus from the empty panel a frame after it is drawn
    terminal.keys("n")
    terminal.wait_for("Build an image")
    time.sleep(0.5)  # the dialog focuses its first field once drawn
    terminal.keys("C-u")
    time.sleep(0.3)  # a key binding sent in one burst with text can act after some of the text
    terminal.keys(str(context))
    terminal.wait_for("/ctx")  # the field shows the end of a long path
    for _ in range(2):
        terminal.keys("Tab")
        time.sleep(0.3)
    terminal.keys("journey:1")
    terminal.wait_for("journey:1")
    terminal.keys("C-s")
    terminal.wait_for("Done: ", timeout=60)
    terminal.keys("Escape")
    terminal.wait_for("REPOSITORY")  # the dialog closed (a key sent sooner would make Escape an Alt- chord)
    terminal.keys("R")
    terminal.wait_for("Run journey:1")  # newest first: the new image is under the cursor
    time.sleep(0.5)
    terminal.keys("trip")
    terminal.wait_for("trip")
    terminal.keys("C-s")
    terminal.wait_for("journey 3 built-here", timeout=30)  # panel 5 follows the new container's log
    assert "trip" in terminal.screen()
    terminal.keys("3")
    terminal.wait_for("Up ")
    stop_and_remove(terminal, "trip")
    assert engine.container_list(all=True) == []
    assert [t for i in engine.image_list() for t in i.repo_tags if t.startswith("journey")] == ["journey:1"]
    terminal.keys("q")
    terminal.wait_for("berth-exited-0")


def test_shell_key_hands_the_terminal_over_and_comes_back(engine, terminal: Terminal) -> None:
    """`e` on panel 3: a shell inside the container gets the terminal; `exit` brings the app back."""
    from engine.containers.options import CreateOptions

    engine.image_bootstrap("busybox:latest")
    cid = engine.container_create(CreateOptions(image="busybox:latest", name="e2e-sh", network="none",
                                                cmd=("sleep", "100")))
    try:
        engine.container_start(cid)
        terminal.wait_for("busybox")
        terminal.keys("3")
        terminal.wait_for("Up ")
        terminal.keys("e")
        terminal.wait_for("shell in e2e-sh")
        terminal.type_until("echo in-shell-$((2*21)) $(hostname)", f"in-shell-42 {cid[:12]}")
        terminal.keys("exit", "Enter")
        terminal.wait_for("1 Images")  # the app is back
        assert engine.container_inspect(cid)["State"]["Running"]
        terminal.keys("q")
        terminal.wait_for("berth-exited-0")
    finally:
        engine.container_remove(cid, force=True)
