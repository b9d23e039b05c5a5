#!/usr/bin/env python3
"""Build benchmark (issue #3): a cold build and a fully cached rebuild of examples/xenial-like.

berth's CLI side by side with a peer on the same machine in the same run:
Docker's classic builder (``DOCKER_BUILDKIT=0``) when ``dockerd`` is
installed, else Podman when it is. Each engine gets a private, throw-away
store; everything is removed afterwards. Not a test: run as root,
``python3 bench/build.py [--repeat 5] [--peer docker|podman|none]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # shared with bench/run
from common import REPO, make_context, timed


def run(argv: list[str], env: dict[str, str] | None = None) -> None:
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO,
                   env={**os.environ, **(env or {})})


# -- berth ---------------------------------------------------------------------


def bench_berth(work: str, ctx: str, repeat: int) -> tuple[float, float]:
    def build(root: str, *extra: str) -> None:
        run([sys.executable, "-m", "tui.cli", "--root", root, "build", "-q", *extra, "-t", "bench/xenial", ctx])

    counter = iter(range(1_000_000))

    def cold() -> None:
        root = os.path.join(work, f"berth-{next(counter)}")
        try:
            build(root)
        finally:
            shutil.rmtree(root, ignore_errors=True)

    cached_root = os.path.join(work, "berth-cached")
    build(cached_root)
    try:
        return timed(cold, repeat), timed(lambda: build(cached_root), repeat)
    finally:
        shutil.rmtree(cached_root, ignore_errors=True)


# -- peers ---------------------------------------------------------------------


def bench_docker(work: str, ctx: str, repeat: int) -> tuple[float, float]:
    with common.dockerd(os.path.join(work, "docker")) as side:
        cli = side.cli
        env = {"DOCKER_BUILDKIT": "0"}

        def cold() -> None:
            run([*cli, "build", "-q", "--no-cache", "-t", "bench/xenial", ctx], env)
            run([*cli, "image", "rm", "-f", "bench/xenial"], env)
            run([*cli, "image", "prune", "-f"], env)

        cold_time = timed(cold, repeat)
        run([*cli, "build", "-q", "-t", "bench/xenial", ctx], env)
        return cold_time, timed(lambda: run([*cli, "build", "-q", "-t", "bench/xenial", ctx], env), repeat)


def podman_cli(work: str) -> list[str]:
    return common.podman_side(os.path.join(work, "podman")).cli


def bench_podman(work: str, ctx: str, repeat: int) -> tuple[float, float]:
    cli = podman_cli(work)
    leftovers = [p for p in common.PODMAN_STRAYS if not os.path.exists(p)]
    build = [*cli, "build", "-q", "--network", "none", "--layers", "-t", "bench/xenial", ctx]
    try:
        def cold() -> None:
            run([*build[:-1], "--no-cache", ctx])
            run([*cli, "image", "prune", "-af"])

        cold_time = timed(cold, repeat)
        run(build)
        return cold_time, timed(lambda: run(build), repeat)
    finally:
        subprocess.run([*cli, "system", "reset", "-f"], capture_output=True)
        shutil.rmtree(os.path.join(work, "podman"), ignore_errors=True)
        for path in leftovers:
            shutil.rmtree(path, ignore_errors=True)


def pick_peer(wanted: str) -> str | None:
    if wanted != "auto":
        return None if wanted == "none" else wanted
    if shutil.which("dockerd") and shutil.which("docker"):
        return "docker"
    return "podman" if shutil.which("podman") else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--peer", choices=("auto", "docker", "podman", "none"), default="auto")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: builds mount overlays")
    peer = pick_peer(args.peer)
    with tempfile.TemporaryDirectory(prefix="berth-bench-build-") as work:
        ctx = make_context(work)
        results = {"berth": bench_berth(work, ctx, args.repeat)}
        if peer == "docker":
            results["docker (classic)"] = bench_docker(work, ctx, args.repeat)
        elif peer == "podman":
            results["podman"] = bench_podman(work, ctx, args.repeat)
    print(f"examples/xenial-like, median of {args.repeat}")
    print(f"{'engine':<18}{'cold build':>12}{'cached rebuild':>16}")
    for name, (cold, cached) in results.items():
        print(f"{name:<18}{cold:>11.3f}s{cached:>15.3f}s")
    if len(results) == 2:
        (_, (b_cold, b_cached)), (name, (p_cold, p_cached)) = results.items()
        print(f"berth / {name}: cold {b_cold / p_cold:.2f}x, cached {b_cached / p_cached:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
