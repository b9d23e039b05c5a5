#!/usr/bin/env python3
"""berth against berth: the start-up lines of two revisions, alternated on one store (issue #12).

A refactor must not make a short command slower. ``bench/ab.py BEFORE [AFTER]`` exports both
revisions (``git archive``; AFTER defaults to the working tree) into a temp dir, makes one store
with 50 tags and 50 containers, then runs ``images``, ``ps -a`` and ``run --rm IMG /bin/true``
from each tree in turn (A B A B …) after a warm-up, and prints medians, min–max and the
after/before ratio per line. Both trees use the same interpreter and a bytecode cache of their
own, as an installed berth has. As root; not a test; leaves no trace.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)

import common
from common import alternate, clock

COUNT = 50


def export(rev: str, dest: str) -> str:
    """The tree of ``rev`` (or of the working tree for ``"."``) as plain files under ``dest``."""
    if rev == ".":
        shutil.copytree(common.REPO, dest, ignore=shutil.ignore_patterns(".git", ".venv", "__pycache__"))
        return dest
    os.makedirs(dest)
    archive = subprocess.run(["git", "-C", common.REPO, "archive", rev], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", dest], input=archive, check=True)
    return dest


class Tree:
    """berth run from one exported tree on the shared store: ``-m`` puts the working dir first on sys.path."""

    def __init__(self, tree: str, root: str, work: str) -> None:
        self.tree, self.root = tree, root
        self.env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "",
                    "PYTHONPYCACHEPREFIX": os.path.join(work, "pycache-" + os.path.basename(tree))}

    def __call__(self, *args: str, check: bool = True) -> str:
        argv = [sys.executable, "-m", "tui.cli", "--root", self.root, *args]
        if args[0] in ("run", "create"):
            argv[6:6] = ["--network", "none"]
        done = subprocess.run(argv, cwd=self.tree, env=self.env, capture_output=True, text=True, check=False)
        if check and done.returncode:
            raise SystemExit(f"Error: {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout


def populate(berth: Tree) -> None:
    """50 tags of one image, and 50 created containers."""
    berth("bootstrap", "busybox:latest")
    for i in range(COUNT):
        berth("tag", "busybox:latest", f"ab/img{i}:latest")
        berth("create", "--name", f"ab{i}", "busybox:latest", "/bin/true")


def lines(sides: dict[str, Tree], pairs: int) -> list[tuple[str, dict[str, list[float]]]]:
    verbs = {"images": ("images",), "ps -a": ("ps", "-a"),
             "run --rm IMG /bin/true": ("run", "--rm", "busybox:latest", "/bin/true")}
    return [(line, alternate({n: (lambda s=s, a=argv: clock(lambda: s(*a))) for n, s in sides.items()}, pairs))
            for line, argv in verbs.items()]


def report(rows: list[tuple[str, dict[str, list[float]]]], before: str, after: str) -> str:
    out = [f"| line | before ({before}) | after ({after}) | after/before |", "|---|---|---|---|"]
    for line, values in rows:
        a, b = values["before"], values["after"]
        cells = [f"{statistics.median(v) * 1000:.0f} ms ({min(v) * 1000:.0f}–{max(v) * 1000:.0f})" for v in (a, b)]
        ratio = statistics.median(y / x for x, y in zip(a, b, strict=True))
        out.append(f"| {line} | {cells[0]} | {cells[1]} | {ratio:.3f} |")
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", help="git revision to compare against")
    parser.add_argument("after", nargs="?", default=".", help="git revision (default: the working tree)")
    parser.add_argument("--pairs", type=int, default=20, help="recorded rounds per line (default 20)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("Error: bench/ab.py needs root (berth mounts overlays)", file=sys.stderr)
        return 1
    work = tempfile.mkdtemp(prefix="berth-ab-")
    root = os.path.join(work, "store")
    sides: dict[str, Tree] = {}
    try:
        sides = {"before": Tree(export(args.before, os.path.join(work, "before")), root, work),
                 "after": Tree(export(args.after, os.path.join(work, "after")), root, work)}
        populate(sides["after"])
        print(report(lines(sides, args.pairs), args.before, args.after))
        print("\n" + "\n".join(common.machine_facts()))
    finally:
        if sides:
            ids = sides["after"]("ps", "-aq", check=False).split()
            if ids:
                sides["after"]("rm", "-f", *ids, check=False)
        common.kill_strays(work)
        common.unmount_under(work)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
