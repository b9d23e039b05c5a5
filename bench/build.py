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
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(REPO, "examples", "xenial-like")
TARBALL = "xenial-like-rootfs.tar.gz"


def timed(fn: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def make_context(work: str) -> str:
    """A copy of the example with its root tarball made fresh."""
    ctx = os.path.join(work, "ctx")
    os.makedirs(ctx)
    shutil.copy(os.path.join(EXAMPLE, "Dockerfile"), ctx)
    subprocess.run([sys.executable, os.path.join(EXAMPLE, "make-rootfs.py"), os.path.join(ctx, TARBALL)],
                   check=True, stdout=subprocess.DEVNULL)
    return ctx


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


@contextlib.contextmanager
def dockerd(work: str) -> Iterator[list[str]]:
    """A private dockerd that leaves the host's network alone (see shared/peers/README.md)."""
    base = os.path.join(work, "docker")
    sock = f"unix://{base}.sock"
    proc = subprocess.Popen(["dockerd", "--data-root", base, "--exec-root", base + "-exec",
                             "--pidfile", base + ".pid", "-H", sock, "--bridge=none", "--iptables=false",
                             "--ip-forward=false"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cli = ["docker", "-H", sock]
    try:
        for _ in range(300):
            if subprocess.run([*cli, "info"], capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        yield cli
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(base, ignore_errors=True)
        shutil.rmtree(base + "-exec", ignore_errors=True)


def bench_docker(work: str, ctx: str, repeat: int) -> tuple[float, float]:
    with dockerd(work) as cli:
        env = {"DOCKER_BUILDKIT": "0"}

        def cold() -> None:
            run([*cli, "build", "-q", "--no-cache", "-t", "bench/xenial", ctx], env)
            run([*cli, "image", "rm", "-f", "bench/xenial"], env)
            run([*cli, "image", "prune", "-f"], env)

        cold_time = timed(cold, repeat)
        run([*cli, "build", "-q", "-t", "bench/xenial", ctx], env)
        return cold_time, timed(lambda: run([*cli, "build", "-q", "-t", "bench/xenial", ctx], env), repeat)


def podman_cli(work: str) -> list[str]:
    base = os.path.join(work, "podman")
    return ["podman", "--root", f"{base}/root", "--runroot", f"{base}/run", "--storage-driver", "overlay",
            "--cgroup-manager", "cgroupfs", "--events-backend", "file", "--tmpdir", f"{base}/tmp"]


def bench_podman(work: str, ctx: str, repeat: int) -> tuple[float, float]:
    cli = podman_cli(work)
    leftovers = [p for p in ("/var/lib/containers/cache", "/var/lib/containers", "/run/containers")
                 if not os.path.exists(p)]
    # crun refuses this hybrid-cgroup host (shared/peers/README.md): runc it is.
    build = [*cli, "build", "-q", "--runtime", "runc", "--network", "none", "--layers", "-t", "bench/xenial", ctx]
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
