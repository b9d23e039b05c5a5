"""``run -i``: the container reads a pipe the CLI feeds, never the caller's own stdin file or terminal."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.engine.test_crash import REPO, berth_cmd, run


def test_run_i_cannot_write_the_callers_stdin_file(store_root: Path, tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    canary.mkdir()
    victim = canary / "f"
    victim.write_text("host data\n")
    assert run(store_root, "bootstrap").returncode == 0
    try:
        with open(victim, "rb") as stdin:
            done = subprocess.run(berth_cmd(store_root, "run", "-i", "--rm", "--network", "none", "busybox", "sh",
                                            "-c", "echo x > /proc/self/fd/0; ls -l /proc/self/fd/0; cat"),
                                  stdin=stdin, capture_output=True, text=True, timeout=60, cwd=REPO)
        assert done.returncode == 0, done.stderr
        assert victim.read_text() == "host data\n"  # untouched: fd 0 was a pipe, not the file
        assert "pipe:" in done.stdout
        assert sorted(p.name for p in canary.iterdir()) == ["f"]
    finally:
        run(store_root, "rm", "-f", *run(store_root, "ps", "-aq").stdout.split())


def test_piped_stdin_still_reaches_the_container(store_root: Path) -> None:
    assert run(store_root, "bootstrap").returncode == 0
    done = subprocess.run(berth_cmd(store_root, "run", "-i", "--rm", "--network", "none", "busybox", "cat"),
                          input="hi\n", capture_output=True, text=True, timeout=60, cwd=REPO)
    assert (done.returncode, done.stdout) == (0, "hi\n"), done.stderr


def test_run_without_i_holds_no_host_file_as_stdin(store_root: Path) -> None:
    """Not the host's /dev/null either: root in the container could chmod or chown it through fd 0."""
    import os

    assert run(store_root, "bootstrap").returncode == 0
    null = os.stat("/dev/null")
    done = subprocess.run(berth_cmd(store_root, "run", "--rm", "--network", "none", "busybox", "sh", "-c",
                                    "stat -L -c '%d %i' /proc/self/fd/0; read line || echo eof"),
                          capture_output=True, text=True, timeout=60, cwd=REPO)
    assert done.returncode == 0, done.stderr
    device, inode = done.stdout.split("\n")[0].split()
    assert (int(device), int(inode)) != (null.st_dev, null.st_ino)
    assert done.stdout.endswith("eof\n")  # it still reads end-of-file at once
