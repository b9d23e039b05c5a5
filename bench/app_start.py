#!/usr/bin/env python3
"""First frame of the app: from ``exec`` of ``berth`` to the panel bar on a real (pseudo) terminal.

    python3 bench/app_start.py [--repeat 7] [--python PYTHON]

Starts ``python -m tui.cli --root <tmp store with one image>`` on a pty of
80×24, reads its output until ``1 Images`` and the image's name have both
been drawn, then sends ``q``. Reports the median and the worst run, plus the
app's peak RSS from /proc while it ran. Not a test; it never gates CI.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import select
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _peak_rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


def one_run(python: str, root: str, marker: bytes) -> tuple[float, int]:
    """Seconds to the first frame showing ``marker``, and peak RSS in KiB."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = dict(os.environ, TERM="xterm-256color", BERTH_KEYMAP="")
    # As an installed berth runs: bytecode cached (a shell with PYTHONDONTWRITEBYTECODE recompiles each changed module).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    start = time.monotonic()
    proc = subprocess.Popen([python, "-m", "tui.cli", "--root", root], cwd=REPO, stdin=follower, stdout=follower,
                            stderr=follower, env=env, start_new_session=True)
    os.close(follower)
    seen = b""
    elapsed = float("nan")
    rss = 0
    deadline = start + 20
    try:
        while time.monotonic() < deadline:
            if select.select([leader], [], [], 0.01)[0]:
                try:
                    seen += os.read(leader, 65536)
                except OSError:
                    break
                if b"1 Images" in seen and marker in seen:
                    elapsed = time.monotonic() - start
                    break
        rss = _peak_rss_kib(proc.pid)
        os.write(leader, b"q")
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(leader)
    return elapsed, rss


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix="berth-bench-app-")
    try:
        subprocess.run([args.python, "-m", "tui.cli", "--root", root, "bootstrap"], cwd=REPO, check=True,
                       capture_output=True)
        one_run(args.python, root, b"busybox")  # warm the page cache and .pyc files
        runs = [one_run(args.python, root, b"busybox") for _ in range(args.repeat)]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    times = sorted(t for t, _ in runs)
    print(f"first frame (exec → panel bar and images drawn), {args.repeat} runs, 80x24 pty:")
    print(f"  median {statistics.median(times) * 1000:.0f} ms, worst {times[-1] * 1000:.0f} ms")
    print(f"  peak RSS {max(r for _, r in runs) / 1024:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
