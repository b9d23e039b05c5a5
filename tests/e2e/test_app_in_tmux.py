"""The real ``berth`` app in a real terminal (tmux), driven as a user drives it."""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

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

    def alive(self) -> bool:
        return subprocess.run(["tmux", "has-session", "-t", self.name], capture_output=True).returncode == 0


@pytest.fixture
def terminal(store_root: Path) -> Iterator[Terminal]:
    name = f"berth-e2e-{uuid.uuid4().hex[:8]}"
    command = shlex.join([sys.executable, "-m", "tui.cli", "--root", str(store_root)])
    # The shell stays behind the app so the test can see it quit.
    subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", "80", "-y", "24", "-c", str(REPO),
                    f"env TERM=xterm-256color {command}; echo berth-exited-$?; sleep 30"], check=True)
    try:
        yield Terminal(name)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)


def test_app_shows_real_images_and_quits_on_q(engine, busybox_tar: Path, terminal: Terminal) -> None:
    with open(busybox_tar, "rb") as f:
        image_id = engine.image_import(f, source_name="rootfs.tar", ref="seed/xenial:16.04")
    screen = terminal.wait_for("seed/xenial")
    assert image_id[7:19] in screen and "16.04" in screen
    assert "q Quit" in screen
    terminal.keys("q")
    assert "berth-exited-0" in terminal.wait_for("berth-exited-")


def test_empty_store_bootstrap_key(terminal: Terminal) -> None:
    terminal.wait_for("No images in this store yet")
    terminal.keys("b")
    screen = terminal.wait_for("busybox  ", timeout=30)
    assert "latest" in screen
    terminal.keys("q")
    terminal.wait_for("berth-exited-0")
