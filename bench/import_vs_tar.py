#!/usr/bin/env python3
"""Time ``berth import`` of a ~100 MB rootfs tarball against ``tar -x`` of the same file.

Runs A B A B … (after a warm-up) in one temp dir on one filesystem, and prints
medians, min–max and the ratio. ``tar -x`` does not flush its data; berth
flushes the layer (syncfs) before recording it, so ``tar -x; sync`` is shown too.
Not a test: run it by hand, as root: ``python3 bench/import_vs_tar.py [--pairs N]``.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def make_rootfs_tar(work: str, megabytes: int) -> str:
    """A rootfs-like tree: busybox, a copy of Python's stdlib, and random files up to the size."""
    sys.path.insert(0, REPO)
    from engine.importer import make_busybox_rootfs

    tree = os.path.join(work, "rootfs")
    make_busybox_rootfs(tree, "/bin/busybox")
    stdlib = os.path.dirname(os.__file__)
    shutil.copytree(stdlib, os.path.join(tree, "usr/lib/python3"), symlinks=True,
                    ignore=shutil.ignore_patterns("site-packages", "__pycache__", "test"))
    rng = random.Random(1)
    data_dir = os.path.join(tree, "usr/share/data")
    os.makedirs(data_dir)
    i = 0
    while _du(tree) < megabytes * 1_000_000:
        with open(os.path.join(data_dir, f"blob{i}"), "wb") as f:
            f.write(rng.randbytes(rng.randint(10_000, 2_000_000)))
        i += 1
    out = os.path.join(work, "rootfs.tar")
    subprocess.run(["tar", "-C", tree, "-cf", out, "."], check=True)
    shutil.rmtree(tree)
    return out


def _du(path: str) -> int:
    return int(subprocess.run(["du", "-sb", path], capture_output=True, text=True).stdout.split()[0])


def time_berth(work: str, tar: str) -> float:
    root = os.path.join(work, "store")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "tui.cli", "--root", root, "import", tar, "bench:1"],
                   check=True, cwd=REPO, stdout=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    shutil.rmtree(root)
    return elapsed


def time_tar(work: str, tar: str, sync: bool) -> float:
    dest = os.path.join(work, "x")
    os.makedirs(dest)
    start = time.perf_counter()
    subprocess.run(["tar", "-C", dest, "-xf", tar], check=True)
    if sync:
        subprocess.run(["sync", "-f", dest], check=True)
    elapsed = time.perf_counter() - start
    shutil.rmtree(dest)
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--megabytes", type=int, default=100)
    parser.add_argument("--dir", default="/var/tmp", help="where to work (the filesystem under test)")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="berth-bench-", dir=args.dir)
    try:
        tar = make_rootfs_tar(work, args.megabytes)
        size = os.path.getsize(tar)
        runs: dict[str, list[float]] = {"berth import": [], "tar -x": [], "tar -x; sync": []}
        time_berth(work, tar), time_tar(work, tar, False)  # warm-up: page cache, imports
        for _ in range(args.pairs):
            runs["berth import"].append(time_berth(work, tar))
            runs["tar -x"].append(time_tar(work, tar, False))
            runs["tar -x; sync"].append(time_tar(work, tar, True))
        print(f"tarball: {size / 1e6:.1f} MB, {args.pairs} pairs, in {args.dir}")
        print(f"{'':14} {'median':>8} {'min':>8} {'max':>8}   MB/s")
        for name, values in runs.items():
            med = statistics.median(values)
            print(f"{name:14} {med:8.3f} {min(values):8.3f} {max(values):8.3f}   {size / 1e6 / med:6.0f}")
        berth = statistics.median(runs["berth import"])
        print(f"berth/tar ratio (time): {berth / statistics.median(runs['tar -x']):.2f}x; "
              f"berth/(tar+sync): {berth / statistics.median(runs['tar -x; sync']):.2f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
