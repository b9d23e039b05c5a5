#!/usr/bin/env python3
"""``rm`` of many containers by name, berth beside Podman (issue 14 item 6): names resolve through an index.

    sudo bench/rm_many.py [--count 1000] [--running 100] [--peers podman] [--rounds 1]

Per engine, on a private store: create COUNT containers named ``c0`` … (not
timed), then one ``rm c0 c1 …`` by name (timed); then RUNNING sleeping ones
(``run -d``) and one ``rm -f`` of them by name (Podman: ``rm -f -t 0``, as
Docker's ``rm -f`` kills at once). Prints a Markdown table. Podman
runs as ``shared/peers/README.md`` says (its own --root, runc, no network);
what it writes outside its store is removed afterwards.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402

SLEEPER = ("sleep", "1000")


def _image(side: common.Side, work: str) -> str:
    if side.name == "berth":
        side("bootstrap", "busybox:latest")
    else:
        side("import", "--change", "CMD sh", common.busybox_tar(work), side.image)
    return side.image


def _create_many(side: common.Side, image: str, names: list[str]) -> None:
    for name in names:
        side("create", "--name", name, image, "true")


def measure(side: common.Side, work: str, count: int, running: int, rounds: int) -> dict[str, list[float]]:
    image = _image(side, work)
    got: dict[str, list[float]] = {"rm": [], "rm-f": [], "create": []}
    for r in range(rounds):
        names = [f"c{r}x{i}" for i in range(count)]
        got["create"].append(common.clock(lambda names=names: _create_many(side, image, names)) / count)
        got["rm"].append(common.clock(lambda names=names: side("rm", *names)))
        if running:
            live = [f"r{r}x{i}" for i in range(running)]
            for name in live:
                side("run", "-d", "--name", name, image, *SLEEPER)
            # Docker's rm -f kills at once; Podman's stops with a 10 s grace unless told -t 0.
            kill_now = ["-t", "0"] if side.name == "podman" else []
            got["rm-f"].append(common.clock(lambda kill_now=kill_now, live=live: side("rm", "-f", *kill_now, *live)))
    return got


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--running", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--peers", default="podman")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("Error: run as root (containers)", file=sys.stderr)
        return 1
    results: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="berth-bench-rm-") as work:
        with common.engines(work, tuple(p for p in args.peers.split(",") if p)) as sides:
            for name, side in sides.items():
                started = time.monotonic()
                results[name] = measure(side, work, args.count, args.running, args.rounds)
                print(f"{name}: measured in {time.monotonic() - started:.0f} s", file=sys.stderr)
    names = list(results)
    print(f"| work | {' | '.join(names)} |")
    print(f"|---|{'---|' * len(names)}")
    for key, label, unit in (("create", "create, per container (not the point; for scale)", "s"),
                             ("rm", f"rm of {args.count} created containers, by name", "s"),
                             ("rm-f", f"rm -f of {args.running} running containers, by name", "s")):
        cells = [common.fmt(min(results[n][key]), unit) if results[n][key] else common.NA for n in names]
        print(f"| {label} | {' | '.join(cells)} |")
    for line in common.machine_facts():
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
