"""``berth save`` / ``berth load`` as a user types them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.engine.registry_fixtures import PASSWORD, USER

pytest_plugins = ["tests.engine.registry_plugin"]  # registry, auth_registry, docker_config


def test_save_then_load_prints_the_loaded_tags(berth: Any, engine: Any, tmp_path: Path) -> None:
    image_id = engine.image_bootstrap("busybox:latest")
    out = tmp_path / "bb.tar"
    assert berth("save", "-o", str(out), "busybox")[0] == 0
    assert not (tmp_path / "bb.tar.tmp-berth-save").exists()
    assert berth("rmi", "busybox")[0] == 0
    status, stdout, _ = berth("load", "-i", str(out))
    assert (status, stdout) == (0, "Loaded image: busybox:latest\n")
    assert engine.image_resolve("busybox") == image_id


def test_save_by_id_loads_untagged(berth: Any, engine: Any, tmp_path: Path) -> None:
    image_id = engine.image_bootstrap("busybox:latest")
    out = tmp_path / "bb.tar"
    assert berth("save", "-o", str(out), image_id[7:19])[0] == 0
    status, stdout, _ = berth("load", "-q", "-i", str(out))
    assert (status, stdout) == (0, "")
    status, stdout, _ = berth("load", "-i", str(out))
    assert stdout == f"Loaded image ID: {image_id}\n"


def test_bad_input_is_one_error_line(berth: Any, engine: Any, tmp_path: Path) -> None:
    (tmp_path / "junk.tar").write_bytes(b"junk" * 300)
    status, _, stderr = berth("load", "-i", str(tmp_path / "junk.tar"))
    assert status == 1 and stderr.startswith("Error: ") and stderr.count("\n") == 1
    status, _, stderr = berth("save", "-o", str(tmp_path / "x.tar"), "missing:tag")
    assert status == 1 and stderr == "Error: No such image: missing:tag\n"
    assert not (tmp_path / "x.tar").exists()
    status, _, stderr = berth("load", "-i", str(tmp_path / "nothere.tar"))
    assert status == 1 and "No such file" in stderr


def test_push_and_pull_print_what_docker_prints(berth: Any, engine: Any, registry: Any, docker_config: Path) -> None:
    image_id = engine.image_bootstrap("busybox:latest")
    name = f"{registry.host}/cli/bb"
    assert berth("tag", "busybox", name)[0] == 0
    status, out, err = berth("push", name)
    lines = out.splitlines()
    assert status == 0, err
    assert lines[0] == f"The push refers to repository [{registry.host}/cli/bb]"
    layer = lines[1].split(":")[0]
    assert lines[1:3] == [f"{layer}: Preparing", f"{layer}: Pushed"]  # a pipe gets status lines, no byte counts
    assert lines[-1].startswith("latest: digest: sha256:")
    digest = lines[-1].split()[2]
    assert berth("rmi", "busybox")[0] == 0  # the layer then goes with the last tag: the pulls below fetch it
    assert berth("rmi", name)[0] == 0
    status, out, err = berth("pull", "-q", name)
    assert (status, out) == (0, f"{registry.host}/cli/bb:latest\n"), err
    assert berth("rmi", name)[0] == 0
    status, out, _ = berth("pull", name)
    assert out.splitlines()[:2] == ["Using default tag: latest", "latest: Pulling from cli/bb"]
    blob = out.splitlines()[2].split(":")[0]
    assert [line for line in out.splitlines() if line.startswith(blob + ":")] == [
        f"{blob}: Pulling fs layer", f"{blob}: Verifying Checksum", f"{blob}: Download complete",
        f"{blob}: Pull complete"]
    assert f"Digest: {digest}" in out and engine.image_resolve(name) == image_id
    assert f"Status: Downloaded newer image for {name}:latest" in out
    assert f"Status: Image is up to date for {name}:latest" in berth("pull", name)[1]


def test_pull_of_a_missing_tag_is_one_error_line(berth: Any, registry: Any, docker_config: Path) -> None:
    status, _, err = berth("pull", f"{registry.host}/no/such:tag")
    assert status == 1 and err.startswith("Error: manifest for ") and err.count("\n") == 1


def test_login_and_logout(berth: Any, auth_registry: Any, docker_config: Path, monkeypatch: Any) -> None:
    import io
    import sys

    status, out, err = berth("login", "-u", USER, "-p", "nope", auth_registry.host)
    assert status == 1 and "login failed" in err
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(PASSWORD.encode() + b"\n")))
    status, out, _ = berth("login", "-u", USER, "--password-stdin", auth_registry.host)
    assert (status, out) == (0, "Login Succeeded\n")
    assert auth_registry.host in docker_config.read_text()
    assert berth("logout", auth_registry.host)[1] == f"Removing login credentials for {auth_registry.host}\n"
    assert berth("logout", auth_registry.host)[1] == f"Not logged in to {auth_registry.host}\n"


def test_pull_on_a_terminal_draws_docker_bars_and_leaves_the_final_lines(engine: Any, registry: Any,
                                                                          docker_config: Path, tmp_path: Path) -> None:
    """The real ``berth`` in a pseudo-terminal 150 columns wide, as a user at a terminal sees it."""
    import fcntl
    import os
    import pty
    import struct
    import subprocess
    import sys
    import termios

    engine.image_bootstrap("busybox:latest")
    name = f"{registry.host}/tty/bb:1"
    engine.image_tag("busybox:latest", name)
    engine.image_push(name)
    engine.image_remove(name)
    engine.image_remove("busybox:latest")
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 150, 0, 0))
    try:
        proc = subprocess.Popen([sys.executable, "-m", "tui.cli", "--root", str(engine.root), "pull", name],
                                stdin=subprocess.DEVNULL, stdout=slave, stderr=slave,
                                env={**os.environ, "TERM": "xterm"})
        os.close(slave)
        slave = -1
        chunks = []
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed its side
                break
            if not data:
                break
            chunks.append(data)
        assert proc.wait(60) == 0
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)
    screen = b"".join(chunks).decode("utf-8", "replace")
    assert "Downloading [" in screen or "Extracting [" in screen  # a bar was drawn
    assert re.search(r"[0-9a-f]{12}: Pull complete", screen)
    assert f"Status: Downloaded newer image for {name}" in screen


def test_progress_lines_are_dockers() -> None:
    """The same bytes Docker's daemon sent for one layer (its progress field) come out of berth's renderer."""
    from engine.distribution import TransferProgress
    from tui.transfer import progress_line

    item = TransferProgress("79fcf5a213c7", "Downloading", 1_378_626, 4_335_400)
    assert progress_line(item, 150) == ("79fcf5a213c7: Downloading [===============>" + " " * 35 + "]  1.379MB/4.335MB")
    assert progress_line(item, 80) == "79fcf5a213c7: Downloading  1.379MB/4.335MB"  # narrow: numbers only
    assert progress_line(TransferProgress("79fcf5a213c7", "Pull complete", 9, 9)) == "79fcf5a213c7: Pull complete"
    assert progress_line(TransferProgress("79fcf5a213c7", "Extracting", 5_000_000, 0)) == \
        "79fcf5a213c7: Extracting      5MB"
    assert TransferProgress("x", "Mounted from team/app", 0, 0).final and not item.final
