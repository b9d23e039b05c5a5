#!/usr/bin/env python3
"""Container benchmarks (issue #4): berth's CLI, side by side with Podman in the same run when installed.

Measures: ``run --rm IMG true`` latency; ``run -d`` of N sleeping containers
(time per container, monitor memory per container against conmon's, disk per
container); stopping N containers that ignore SIGTERM with a 10 s grace;
``logs`` of 200k lines; ``ps -a`` with N containers. Not a test: run as root,
``python3 bench/containers.py [--count 50]``. Podman runs with the flags
shared/peers/README.md gives for this host (own root, cgroupfs, runc, ulimits).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # shared with bench/run
from common import REPO, du_kib, timed

Cli = Callable[..., subprocess.CompletedProcess[bytes]]


def rss_kib(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                total += sum(int(line.split()[1]) for line in f if line.startswith("Rss:"))
        except (FileNotFoundError, ProcessLookupError):
            continue  # a conmon of an exiting --rm container
    return total


def pids_of(name: str) -> list[int]:
    out = subprocess.run(["pgrep", "-x", name], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def berth_cli(root: str) -> Cli:
    def run(*argv: str, out: int | None = subprocess.DEVNULL) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([sys.executable, "-m", "tui.cli", "--root", root, *argv], cwd=REPO, stdout=out,
                              check=True)
    return run


def podman_cli(work: str) -> Cli:
    side = common.podman_side(work)
    base, run_flags = side.cli, side.run_flags

    def run(*argv: str, out: int | None = subprocess.DEVNULL) -> subprocess.CompletedProcess[bytes]:
        args = list(argv)
        if args and args[0] in ("run", "create"):
            args[1:1] = run_flags
        return subprocess.run([*base, *args], stdout=out, check=True)
    return run


def bench(cli: Cli, image: str, count: int, memory: Callable[[], int], disk: Callable[[], int]) -> dict[str, float]:
    res: dict[str, float] = {}
    cli("run", "--rm", image, "true")  # warm-up
    res["run --rm true (s)"] = timed(lambda: cli("run", "--rm", image, "true"), 10)
    cli("run", "-d", "--name", "first", image, "sleep", "1000")
    time.sleep(1)  # let the --rm runs' helpers finish exiting
    mem0, disk0 = memory(), disk()
    t = timed(lambda: [cli("run", "-d", image, "sh", "-c", "sleep 1000 & wait") for _ in range(count)])
    res["run -d, per container (s)"] = t / count
    res["monitor memory per container (KiB)"] = (memory() - mem0) / count
    res["disk per container (KiB)"] = (disk() - disk0) / count
    res["ps -a (s)"] = timed(lambda: cli("ps", "-a"), 5)
    ids = cli("ps", "-q", out=subprocess.PIPE).stdout.decode().split()
    res[f"stop {len(ids)} ignoring SIGTERM, -t 10 (s)"] = timed(lambda: cli("stop", "-t", "10", *ids))
    cli("run", "--name", "chatty", image, "sh", "-c", "seq 200000")
    res["logs, 200k lines (s)"] = timed(lambda: cli("logs", "chatty"), 3)
    ids = cli("ps", "-aq", out=subprocess.PIPE).stdout.decode().split()
    cli("rm", "-f", *ids)
    return res


def run_berth(work: str, count: int) -> dict[str, float]:
    root = os.path.join(work, "berth")
    cli = berth_cli(root)
    cli("bootstrap", "busybox:latest")

    def monitor() -> int:
        """The keeper (its pid is in the lock) and its monitor child: what berth spends per store."""
        with open(os.path.join(root, "monitor.lock")) as f:
            keeper = int(f.read())
        with open(f"/proc/{keeper}/task/{keeper}/children") as f:
            children = [int(p) for p in f.read().split()]
        monitors = []
        for pid in children:
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as g:
                    if b"engine.containers.monitor" in g.read():
                        monitors.append(pid)
            except OSError:
                continue
        return rss_kib([keeper, *monitors])

    return bench(cli, "busybox", count, monitor,
                 lambda: du_kib(os.path.join(root, "overlay2"), os.path.join(root, "containers")))


def run_podman(work: str, count: int) -> dict[str, float]:
    sys.path.insert(0, REPO)
    from engine.importer import make_busybox_rootfs

    pw = os.path.join(work, "podman")
    rootfs, tar = os.path.join(work, "rootfs"), os.path.join(work, "rootfs.tar")
    make_busybox_rootfs(rootfs, "/bin/busybox")
    subprocess.run(["tar", "-C", rootfs, "-cf", tar, "."], check=True)
    cli = podman_cli(pw)
    cli("import", "--change", "CMD sh", tar, "peer/busybox")
    try:
        return bench(cli, "peer/busybox", count, lambda: rss_kib(pids_of("conmon")),
                     lambda: du_kib(os.path.join(pw, "root")))
    finally:
        subprocess.run(["podman", "--root", f"{pw}/root", "--runroot", f"{pw}/run", "system", "reset", "-f"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=50)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="berth-bench-")
    results: dict[str, dict[str, float]] = {}
    try:
        results["berth"] = run_berth(work, args.count)
        if shutil.which("podman"):
            results["podman"] = run_podman(work, args.count)
    finally:
        subprocess.run(["umount", "-R", "-l", work], stderr=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)
    print(f"{'':44s} {'berth':>10s} {'podman':>10s} {'ratio':>7s}")
    for key, value in results["berth"].items():
        peer = results.get("podman", {}).get(key)
        ratio = f"{value / peer:7.2f}" if peer else "      -"
        print(f"{key:44s} {value:10.3f} {peer if peer is not None else float('nan'):10.3f} {ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
