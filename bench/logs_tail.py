#!/usr/bin/env python3
"""``logs --tail`` / ``--since`` and the app's log panel on a 1 GB json-file log (issue 14 item 5).

    sudo bench/logs_tail.py [--size-mb 1024] [--repo CHECKOUT] [--keep]

Makes a temp store with one created container, writes a json-file log of
``--size-mb`` straight into it (lines as the monitor writes them, ten per
stamp, both streams), then measures with ``/usr/bin/time`` (wall seconds and
peak RSS of the process alone: a child's own ru_maxrss would count the
forking parent's pages):

- ``berth logs --tail 10``, ``berth logs --since <1 s before the end>``,
  ``berth logs --since <the middle> --until <1 s later>`` (10,000 lines each);
- ``tail -n 10`` of the file, the floor;
- the app's log panel: ``LogFollower`` filling a ``LogBuffer`` of its default
  bound (100,000 lines) from the log, until it has read it all.

``--repo`` runs berth from another checkout (e.g. an older commit unpacked with
``git archive``) for a before/after figure; the log is the same bytes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
T0 = 1.7e9
STEP = 0.001

PANEL = """
import sys, threading
from engine import Engine
from tui.widgets.log_source import LogBuffer, LogFollower
engine = Engine(sys.argv[1])
buffer = LogBuffer()
done = threading.Event()
errors = []
LogFollower(engine, engine.container_resolve("chatty"), buffer, lambda m: m.ended and done.set(), errors.append).start()
done.wait()
assert not errors, errors
print(len(buffer), file=sys.stderr)
"""


def write_log(path: str, size: int) -> tuple[float, float]:
    """A json-file log of about ``size`` bytes; (first stamp, last stamp)."""
    sys.path.insert(0, REPO)
    from engine.rfc3339 import format_time

    per_stamp, body = 10, "z" * 100
    # Two passes: this one fills body and stream and leaves a %d for the line number.
    batch = "".join('{"log":"%%d %s\\n","stream":"%s","time":"TIME"}\n'  # noqa: UP031
                    % (body, "stderr" if i % 5 == 0 else "stdout") for i in range(per_stamp))
    t, written, n = T0, 0, 0
    with open(path, "wb") as f:
        while written < size:
            out = []
            for _ in range(500):
                out.append((batch.replace("TIME", format_time(t)) % tuple(range(n, n + per_stamp))).encode())
                n += per_stamp
                t += STEP
            block = b"".join(out)
            f.write(block)
            written += len(block)
    return T0, t - STEP


def timed(argv: list[str], cwd: str) -> tuple[float, int]:
    """(wall seconds, peak RSS KiB) of one command, its output thrown away."""
    proc = subprocess.run(["/usr/bin/time", "-f", "%e %M", *argv], cwd=cwd, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, check=True, text=True)
    wall, kib = proc.stderr.strip().splitlines()[-1].split()
    return float(wall), int(kib)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--repo", default=REPO, help="the berth checkout to run (default: this one)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("Error: run as root (berth changes its store as root)", file=sys.stderr)
        return 1
    work = tempfile.mkdtemp(prefix="berth-bench-logs-")
    try:
        root = os.path.join(work, "store")
        berth = [sys.executable, "-m", "tui.cli", "--root", root]
        subprocess.run([*berth, "bootstrap", "busybox:latest"], cwd=args.repo, check=True, stdout=subprocess.DEVNULL)
        cid = subprocess.run([*berth, "create", "--name", "chatty", "busybox", "true"], cwd=args.repo, check=True,
                             capture_output=True, text=True).stdout.strip()
        log = os.path.join(root, "containers", cid, cid + "-json.log")
        first, last = write_log(log, args.size_mb << 20)
        sys.path.insert(0, REPO)
        from engine.rfc3339 import format_time

        size = os.path.getsize(log)
        cases = [
            ("berth logs --tail 10", [*berth, "logs", "--tail", "10", "chatty"]),
            ("berth logs --since <1 s before the end>", [*berth, "logs", "--since", format_time(last - 1), "chatty"]),
            ("berth logs --since <the middle> --until <1 s later>",
             [*berth, "logs", "--since", format_time((first + last) / 2), "--until",
              format_time((first + last) / 2 + 1), "chatty"]),
            ("tail -n 10 of the file", ["tail", "-n", "10", log]),
            ("app log panel (LogFollower, 100,000-line buffer)", [sys.executable, "-c", PANEL, root]),
        ]
        print(f"log: {size / 1e9:.2f} GB, {size // 172:,} lines (about); berth from {args.repo}")
        print(f"| work | wall (best of {args.rounds}) | peak RSS |")
        print("|---|---|---|")
        for label, argv in cases:
            runs = [timed(argv, args.repo) for _ in range(args.rounds)]
            wall = min(r[0] for r in runs)
            kib = max(r[1] for r in runs)
            print(f"| {label} | {wall:.2f} s | {kib / 1024:.0f} MiB |", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
