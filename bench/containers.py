#!/usr/bin/env python3
"""Container benchmarks (issue #4): berth's CLI, side by side with Podman when it is installed.

Measures: ``run --rm IMG true`` latency; ``run -d`` of N sleeping containers
(time per container, monitor memory per container, disk per container);
stopping N containers that ignore SIGTERM with a 10 s grace; ``logs`` of 200k
lines; ``ps -a`` with N containers. Not a test: run as root,
``python3 bench/containers.py [--count 50] [--podman]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def berth(root: str, *argv: str, out: int | None = subprocess.DEVNULL) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "tui.cli", "--root", root, *argv], cwd=REPO, stdout=out,
                          check=True)


def timed(fn, repeat: int = 1) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def monitor_memory(root: str) -> tuple[int, int]:
    """(RSS, PSS) of the store's monitor in KiB."""
    with open(os.path.join(root, "monitor.lock")) as f:
        pid = int(f.read())
    fields = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if parts[0] in ("Rss:", "Pss:"):
                fields[parts[0]] = int(parts[1])
    return fields["Rss:"], fields["Pss:"]


def du_kib(path: str) -> int:
    out = subprocess.run(["du", "-skx", path], capture_output=True, text=True, check=True).stdout
    return int(out.split()[0])


def bench_berth(work: str, count: int) -> dict[str, float]:
    root = os.path.join(work, "berth")
    berth(root, "bootstrap", "busybox:latest")
    res: dict[str, float] = {}
    berth(root, "run", "--rm", "busybox", "true")  # warm-up (starts the monitor)
    res["run --rm true (s)"] = timed(lambda: berth(root, "run", "--rm", "busybox", "true"), 10)
    berth(root, "run", "-d", "--name", "first", "busybox", "sleep", "1000")
    rss0, pss0 = monitor_memory(root)
    disk0 = du_kib(os.path.join(root, "overlay2")) + du_kib(os.path.join(root, "containers"))
    t = timed(lambda: [berth(root, "run", "-d", "busybox", "sh", "-c", "sleep 1000 & wait")
                       for _ in range(count)])
    rss1, pss1 = monitor_memory(root)
    disk1 = du_kib(os.path.join(root, "overlay2")) + du_kib(os.path.join(root, "containers"))
    res["run -d per container (s)"] = t / count
    res["monitor RSS per container (KiB)"] = (rss1 - rss0) / count
    res["monitor PSS per container (KiB)"] = (pss1 - pss0) / count
    res["monitor RSS total (KiB)"] = rss1
    res["disk per container (KiB)"] = (disk1 - disk0) / count
    res["ps -a (s)"] = timed(lambda: berth(root, "ps", "-a"), 5)
    ids = berth(root, "ps", "-q", out=subprocess.PIPE).stdout.decode().split()
    res["stop N ignoring SIGTERM, -t 10 (s)"] = timed(lambda: berth(root, "stop", "-t", "10", *ids))
    berth(root, "run", "--name", "chatty", "busybox", "sh", "-c", "seq 200000")
    res["logs 200k lines (s)"] = timed(lambda: berth(root, "logs", "chatty"), 3)
    ids = berth(root, "ps", "-aq", out=subprocess.PIPE).stdout.decode().split()
    berth(root, "rm", "-f", *ids)
    return res


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=50)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="berth-bench-")
    try:
        results = bench_berth(work, args.count)
    finally:
        subprocess.run(["umount", "-R", "-l", work], stderr=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)
    for key, value in results.items():
        print(f"{key:40s} {value:10.3f}")
    if shutil.which("podman") is None:
        print("podman is not installed: no ratios (see shared/peers/README.md to install it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
