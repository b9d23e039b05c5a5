"""kill -9 and Ctrl-C in the middle of an import: the store stays consistent and loses nothing."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
KILL_POINTS = int(os.environ.get("BERTH_KILL_POINTS", "20"))


def berth_cmd(root: Path, *argv: str) -> list[str]:
    return [sys.executable, "-m", "tui.cli", "--root", str(root), *argv]


def run(root: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(berth_cmd(root, *argv), capture_output=True, text=True, timeout=120, cwd=REPO)


@pytest.fixture(scope="module")
def big_tar(tmp_path_factory: pytest.TempPathFactory, busybox_rootfs: Path) -> Path:
    """A ~40 MB rootfs of many files, so an import takes long enough to be killed anywhere in it."""
    base = tmp_path_factory.mktemp("big")
    tree = base / "rootfs"
    subprocess.run(["cp", "-a", str(busybox_rootfs), str(tree)], check=True)
    rng = random.Random(7)
    for d in range(40):
        sub = tree / "usr/share" / f"d{d}"
        sub.mkdir(parents=True)
        for f in range(25):
            (sub / f"f{f}").write_bytes(rng.randbytes(rng.randint(1, 80_000)))
    out = base / "big.tar"
    subprocess.run(["tar", "-C", str(tree), "-cf", str(out), "."], check=True)
    return out


def _assert_consistent(root: Path, base_id: str) -> None:
    check = run(root, "system", "check")
    if check.returncode != 0:
        repaired = run(root, "system", "check", "--repair")
        assert repaired.returncode == 0, repaired.stdout + repaired.stderr
        check = run(root, "system", "check")
    assert check.returncode == 0, check.stdout + check.stderr
    images = run(root, "images", "-q", "--no-trunc")
    assert base_id in images.stdout.split()
    assert run(root, "history", "base").returncode == 0


def test_kill_9_during_import_at_many_moments(store_root: Path, busybox_tar: Path, big_tar: Path) -> None:
    base = run(store_root, "import", str(busybox_tar), "base")
    assert base.returncode == 0, base.stderr
    base_id = base.stdout.strip()
    started = time.perf_counter()
    probe = run(store_root, "import", str(big_tar), "probe")
    duration = time.perf_counter() - started
    assert probe.returncode == 0, probe.stderr
    assert run(store_root, "rmi", "probe").returncode == 0
    rng = random.Random(20261128)
    landed = 0
    for i in range(KILL_POINTS):
        # Spread the kills over the whole run, start-up and final renames included.
        delay = duration * (i + rng.random()) / KILL_POINTS * 1.1
        proc = subprocess.Popen(berth_cmd(store_root, "import", str(big_tar), f"victim:{i}"), cwd=REPO,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.wait(timeout=60)
        landed += proc.returncode == 0
        _assert_consistent(store_root, base_id)
    assert landed < KILL_POINTS, "every import finished before its kill: the kill points missed the import"
    final = run(store_root, "import", str(big_tar), "after")
    assert final.returncode == 0, final.stderr


def test_ctrl_c_during_import_leaves_nothing(store_root: Path, busybox_tar: Path, big_tar: Path) -> None:
    base_id = run(store_root, "import", str(busybox_tar), "base").stdout.strip()
    layers_before = sorted(os.listdir(store_root / "overlay2"))
    proc = subprocess.Popen(berth_cmd(store_root, "import", "-", "interrupted"), cwd=REPO, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        data = big_tar.read_bytes()
        assert proc.stdin is not None
        proc.stdin.write(data[: len(data) // 2])  # half the layer: berth is mid-import, waiting for more
        proc.stdin.flush()
        deadline = time.monotonic() + 30
        while not any(p.suffix != ".lock" for p in (store_root / "tmp").glob("*")):
            assert time.monotonic() < deadline, "the import never started staging"
            time.sleep(0.05)
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert err.decode().strip().startswith("Error: interrupted") and b"Traceback" not in err
    check = run(store_root, "system", "check")
    assert check.returncode == 0, check.stdout
    assert sorted(os.listdir(store_root / "overlay2")) == layers_before
    assert base_id in run(store_root, "images", "-q", "--no-trunc").stdout
