"""kill -9 of ``berth build`` at seeded moments: the store stays consistent, nothing leaks, nothing is lost.

BERTH_KILL_POINTS (default 20) sets the kill points per verb.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

from tests.conftest import mounts_under
from tests.engine.test_crash import KILL_POINTS, REPO, berth_cmd, run

DOCKERFILE = """FROM busybox
RUN echo one > /one && sleep 0.1
COPY payload /payload
RUN cat /payload > /copy && sleep 0.1
RUN rm /one && echo three > /three
CMD ["sh"]
"""


def processes_inside(root: Path) -> list[int]:
    """PIDs whose root directory lies inside the store: containers that outlived their builder."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.readlink(f"/proc/{pid}/root").startswith(str(root)):
                found.append(int(pid))
        except OSError:
            continue
    return found


def assert_recovered(root: Path, keep: list[str]) -> str:
    """Consistent after --repair at most; no mount or process left; earlier images intact; berth works.

    Returns what the repair reported, so a test can see which kill points it hit.
    """
    check = run(root, "system", "check")
    report = ""
    if check.returncode != 0:
        repaired = run(root, "system", "check", "--repair")
        assert repaired.returncode == 0, repaired.stdout + repaired.stderr
        report = repaired.stdout
    assert run(root, "system", "check").returncode == 0
    assert mounts_under(root) == []
    deadline = time.monotonic() + 5
    while processes_inside(root) and time.monotonic() < deadline:
        time.sleep(0.05)  # a dying container may take a moment to be reaped
    assert processes_inside(root) == []
    listed = run(root, "images", "-a", "-q", "--no-trunc").stdout.split()
    for image_id in keep:
        assert image_id in listed
    return report


def test_kill_9_during_build(store_root: Path, tmp_path: Path) -> None:
    assert run(store_root, "bootstrap").returncode == 0
    base = run(store_root, "images", "-q", "--no-trunc").stdout.split()
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(DOCKERFILE)
    (context / "payload").write_bytes(os.urandom(2_000_000))
    started = time.perf_counter()
    assert run(store_root, "build", "--no-cache", "-t", "probe", str(context)).returncode == 0
    duration = time.perf_counter() - started
    rng = random.Random(8)
    interrupted, repairs = 0, ""
    for i in range(KILL_POINTS):
        proc = subprocess.Popen(berth_cmd(store_root, "build", "--no-cache", "-t", f"victim:{i}", str(context)),
                                cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(duration * (i + rng.random()) / KILL_POINTS)
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.wait(timeout=60)
        interrupted += proc.returncode == -signal.SIGKILL
        repairs += assert_recovered(store_root, base)
    assert "abandoned build container" in repairs, "no kill landed while a step's container lived"
    assert interrupted >= KILL_POINTS // 2, "most kills came after the build had finished"
    after = run(store_root, "build", "-t", "after", str(context))
    assert after.returncode == 0, after.stderr
