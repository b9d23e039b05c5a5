#!/usr/bin/env python3
"""``berth events --since 1m`` on a large event journal: time to the last event and peak RSS.

    python3 bench/journal.py [--mb 100] [--runs 3] [--tree DIR]

Writes one unrotated ``events.jsonl`` of ``--mb`` MB (a month of container
events, as a berth before rotation left it, and the worst case for a seek:
every byte in one file) plus 40 events in the last minute, on a scratch store.
Each run starts ``python -m tui.cli events --since 1m --until 60s`` from
``--tree`` (default: this checkout; point it at an older one for "before"),
times start → the 40th line on stdout, reads the process's VmHWM and rchar, and ends it.
Not a test; it never gates CI.
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
RECENT = 40


def make_journal(path: str, megabytes: int) -> int:
    """A month of older events; their size (``fresh_tail`` adds the last minute's before each run)."""
    now = time.time()
    line = b'{"time":%.6f,"type":"container","action":"start","id":"%064x","name":"svc"}\n'
    count = megabytes * (1 << 20) // len(line % (now, 0))
    step = 30 * 86400 / count
    with open(path, "wb") as f:
        f.writelines(b"".join(line % (now - 30 * 86400 - 3600 + i * step, i)
                              for i in range(first, min(count, first + 100_000)))
                     for first in range(0, count, 100_000))
        return f.tell()


def fresh_tail(path: str, old_size: int) -> None:
    now = time.time()
    with open(path, "r+b") as f:
        f.truncate(old_size)
        f.seek(old_size)
        f.write(b"".join(b'{"time":%.6f,"type":"image","action":"tag","id":"r%d","name":"x"}\n' % (now - 50 + i, i)
                         for i in range(RECENT)))


def run_once(tree: str, root: str) -> tuple[float, int, int]:
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "tui.cli", "--root", root, "events", "--since", "1m",
                             "--until", "60s"], cwd=tree, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        for _ in range(RECENT):
            if not proc.stdout.readline():
                raise SystemExit(f"events ended early (exit {proc.wait()})")
        elapsed = time.perf_counter() - started
        with open(f"/proc/{proc.pid}/status") as f:
            hwm = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
        with open(f"/proc/{proc.pid}/io") as f:
            rchar = next(int(line.split()[1]) for line in f if line.startswith("rchar:"))
    finally:
        proc.terminate()
        proc.wait()
    return elapsed, hwm, rchar


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tree", default=REPO, help="the berth checkout to run (for a before/after)")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="berth-bench-journal-")
    try:
        root = os.path.join(work, "store")
        os.mkdir(root)
        journal = os.path.join(root, "events.jsonl")
        old_size = make_journal(journal, args.mb)
        size = old_size / (1 << 20)
        results = []
        for _ in range(args.runs):
            fresh_tail(journal, old_size)
            results.append(run_once(args.tree, root))
        times = [t for t, _, _ in results]
        print(f"events --since 1m, {size:.0f} MB journal, {args.tree}: "
              f"median {statistics.median(times) * 1000:.0f} ms (min {min(times) * 1000:.0f}), "
              f"peak RSS {max(h for _, h, _ in results) / 1024:.0f} MB, "
              f"read {max(r for _, _, r in results) / 1024:.0f} KB (start-up's .py/.pyc reads included)")
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
