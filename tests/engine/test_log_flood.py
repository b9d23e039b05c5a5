"""A container logging as fast as it can, with rotation: disk stays bounded and ``logs -f`` keeps up.

BERTH_FLOOD_SECONDS (default 30) sets how long the container floods.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

from tests.engine.test_crash import REPO, berth_cmd, run

SECONDS = float(os.environ.get("BERTH_FLOOD_SECONDS", "30"))


def _log_bytes(root: Path, cid: str) -> int:
    total = 0
    for path in (root / "containers" / cid).glob(f"{cid}-json.log*"):
        try:
            total += path.stat().st_size
        except FileNotFoundError:
            pass  # rotated away between the listing and the stat
    return total


def test_log_flood_is_bounded_and_followed(store_root: Path) -> None:
    assert run(store_root, "bootstrap").returncode == 0
    # Numbered lines, so the follower can tell it saw the newest ones.
    script = "i=0; while :; do i=$((i+1)); echo line-$i-padding-padding-padding-padding-padding-padding; done"
    started = run(store_root, "run", "-d", "--name", "flood", "--log-opt", "max-size=10m", "--log-opt",
                  "max-file=3", "busybox", "sh", "-c", script)
    assert started.returncode == 0, started.stderr
    cid = started.stdout.strip()
    follower = subprocess.Popen(berth_cmd(store_root, "logs", "-f", "--tail", "0", "flood"), cwd=REPO,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    seen = {"lines": 0, "last": ""}

    def read() -> None:
        assert follower.stdout is not None
        for raw in follower.stdout:
            seen["lines"] += 1
            seen["last"] = raw.decode(errors="replace")

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    peak = 0
    try:
        deadline = time.monotonic() + SECONDS
        while time.monotonic() < deadline:
            peak = max(peak, _log_bytes(store_root, cid))
            time.sleep(0.2)
        assert run(store_root, "stop", "-t", "1", "flood").returncode == 0
        reader.join(timeout=60)
        follower.wait(timeout=60)  # -f ends when the container does
        final = run(store_root, "logs", "--tail", "1", "flood").stdout.strip()
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()
        run(store_root, "rm", "-f", "flood")
    written = int(final.split("-")[1])
    print(f"\nflood: {written} lines in {SECONDS:.0f} s, {seen['lines']} followed live, "
          f"peak log size {peak / 2**20:.1f} MiB")
    # max-size=10m is 10 MiB, as Docker reads it; a check may land mid-rotation, hence one file of slack.
    assert peak <= 3 * 10 * 2**20 + 2**20, f"logs grew to {peak} bytes"
    assert written > 10_000, "the flood was too slow to mean anything"
    assert seen["last"].strip() == final, "logs -f had not caught up when the container stopped"
    assert seen["lines"] > 10_000
