#!/usr/bin/env python3
"""Time ``berth save/load/push/pull`` of a ~200 MB image against ``skopeo copy`` of the same image.

One run builds a three-layer image (busybox, 80 MB of random bytes, ~120 MB of
text in 2000 files), then times each pair of commands (median of N runs,
fresh destination each time):

  save   berth save -o F               vs skopeo copy oci-archive:F docker-archive:G (archive → archive)
  load   berth load -i F  (extracts)   vs skopeo copy docker-archive:F oci:DIR (no extraction)
  push   berth push 127.0.0.1:P/b/app  vs skopeo copy oci-archive:F docker://127.0.0.1:P/s/app
  pull   berth pull (fresh store)      vs skopeo copy docker://… oci:DIR
  fetch  berth's registry client only  vs the same skopeo copy (both: blobs to files, no extraction)

The registry is Debian's docker-registry on 127.0.0.1 only. Where ``docker`` is
installed, ``docker save``/``docker load`` are timed too. Not a test: run by
hand, as root, with the Python that has berth's dependencies:
``/work/venv/bin/python bench/distribution.py [--runs N]``.

``--small`` times a ~50 MB image in five layers instead (busybox, two of random
bytes, two of text): the registry transport's own cost (connections,
requests), less the compression's. ``--only push,pull`` picks lines;
``--tree DIR`` times the berth in another checkout (``git archive main`` of an
earlier commit, for a before/after). Every line alternates the tools round by
round (berth first in even rounds, skopeo first in odd ones) after one
unrecorded warm-up round, and reports medians. ``--tls`` serves the registries
over HTTPS (a throw-away self-signed certificate; both tools skip verification,
as for any loopback registry): what a connection costs then includes a TLS
handshake.
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
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

DOCKERFILE = """FROM busybox:latest
RUN head -c 80000000 /dev/urandom > /random.bin
RUN mkdir /text && i=0; while [ $i -lt 2000 ]; do yes "line $i: some compressible text for the bench" | head -c 60000 > /text/f$i; i=$((i+1)); done
"""  # noqa: E501 -- the Dockerfile the bench builds; its RUN lines stay whole
SMALL_DOCKERFILE = """FROM busybox:latest
RUN head -c 15000000 /dev/urandom > /random1.bin
RUN head -c 15000000 /dev/urandom > /random2.bin
RUN mkdir /t1 && i=0; while [ $i -lt 200 ]; do yes "line $i: some compressible text for the bench" | head -c 50000 > /t1/f$i; i=$((i+1)); done
RUN mkdir /t2 && i=0; while [ $i -lt 200 ]; do yes "row $i: some more compressible text for the bench" | head -c 50000 > /t2/f$i; i=$((i+1)); done
"""  # noqa: E501 -- the Dockerfile the bench builds; its RUN lines stay whole


TREE = REPO  # the berth checkout timed (--tree)


def berth(root: str, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "tui.cli", "--root", root, *args], check=True, cwd=TREE,
                   env={**os.environ, "PYTHONPATH": TREE}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# The registry client alone, as pull drives it (three blobs at a time), writing each blob to a file: what
# `skopeo copy docker://… oci:DIR` does, without pull's extraction into layers. Run in the --tree checkout.
FETCH = """
import json, os, sys
from concurrent.futures import ThreadPoolExecutor
from engine.distribution.registry import RegistryClient
from engine.distribution.manifests import fetch_image_manifest
from engine.distribution.platform import host_platform
domain, repo, tag, out = sys.argv[1:5]
client = RegistryClient(domain, repo, credentials=None)
manifest = fetch_image_manifest(client, tag, host_platform(), repo)
def get(digest):
    response = client.send("GET", client.url("blobs/" + digest))
    assert response.status == 200, response.status
    with open(os.path.join(out, digest[7:]), "wb") as f:
        while chunk := response.read_chunk():
            f.write(chunk)
    response.close()
os.makedirs(out)
digests = [manifest.value["config"]["digest"]] + [layer["digest"] for layer in manifest.value["layers"]]
with ThreadPoolExecutor(3) as pool:
    list(pool.map(get, digests))
getattr(client, "close", lambda: None)()
"""


def fetch(host: str, repo: str, out: str) -> None:
    subprocess.run([sys.executable, "-c", FETCH, host, repo, "1", out], check=True, cwd=TREE,
                   env={**os.environ, "PYTHONPATH": TREE}, stdout=subprocess.DEVNULL)


def tool(*args: str) -> None:
    subprocess.run(list(args), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def paired(runs: int, prepare: Callable[[int], None], ours: Callable[[int], None],
           theirs: Callable[[int], None] | None) -> tuple[float, float | None]:
    """Medians of ``ours(i)`` and ``theirs(i)``, run alternately, the order swapped every round;
    round 0 is a warm-up and not recorded (so ``prepare`` and the actions see runs + 1 rounds)."""
    mine: list[float] = []
    other: list[float] = []
    for i in range(runs + 1):
        prepare(i)
        order = [(ours, mine), (theirs, other)] if i % 2 == 0 else [(theirs, other), (ours, mine)]
        for action, times in order:
            if action is None:
                continue
            start = time.perf_counter()
            action(i)
            if i:
                times.append(time.perf_counter() - start)
    return statistics.median(mine), statistics.median(other) if other else None


def build_image(work: Path, dockerfile: str) -> tuple[str, Path, int]:
    from engine import Engine

    root = str(work / "store")
    engine = Engine(root)
    engine.image_bootstrap("busybox:latest")
    (work / "ctx").mkdir()
    (work / "ctx" / "Dockerfile").write_text(dockerfile)
    engine.image_build(str(work / "ctx"), tags=["bench/app:1"], network="none")  # as the peers build: no bridge
    size = sum(s.size for s in engine.image_list() if "bench/app:1" in s.repo_tags)
    archive = work / "app.tar"
    berth(root, "save", "-o", str(archive), "bench/app:1")
    return root, archive, size


def nothing(_: int) -> None:
    pass


def main() -> int:
    global TREE
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--small", action="store_true", help="a ~50 MB image in five layers")
    parser.add_argument("--only", default="save,load,push,pull,fetch", help="comma-separated lines to time")
    parser.add_argument("--tree", default=REPO, help="the berth checkout to time (default: this one)")
    parser.add_argument("--tls", action="store_true", help="registries over HTTPS")
    parser.add_argument("--delay", type=float, default=0, metavar="MS",
                        help="registries MS ms away (a round trip through a delaying relay)")
    args = parser.parse_args()
    TREE = os.path.abspath(args.tree)
    only = set(args.only.split(","))
    if os.geteuid() != 0:
        sys.exit("run as root: berth mounts overlays")
    skopeo = shutil.which("skopeo")
    with tempfile.TemporaryDirectory(prefix="berth-bench-", dir="/var/tmp") as tmp:
        work = Path(tmp)
        root, archive, size = build_image(work, SMALL_DOCKERFILE if args.small else DOCKERFILE)
        print(f"image: {size / 1e6:.0f} MB of layer data, archive {archive.stat().st_size / 1e6:.0f} MB, "
              f"{args.runs} runs each (berth from {TREE}){', registries over HTTPS' if args.tls else ''}"
              f"{f', {args.delay:g} ms away' if args.delay else ''}")
        with Registries(work, args.tls, args.delay) as registries:
            rows = measure(work, root, archive, registries, args.runs, skopeo, only)
    report(rows, archive_mb=size / 1e6)
    return 0


class Registries:
    """One docker-registry on 127.0.0.1 per push run: a blob another run pushed can then be neither
    skipped nor mounted (skopeo remembers blob locations in /var/lib/containers/cache). With a delay,
    each is reached through a relay that holds every piece of data for half the round trip each way
    (this kernel has no netem), so a connection and a request cost what they do to a registry elsewhere."""

    def __init__(self, work: Path, tls: bool = False, delay_ms: float = 0) -> None:
        self.work = work
        self.delay_ms = delay_ms
        self.tls: tuple[Path, Path] | None = None
        if tls:
            from tests.engine.registry_fixtures import make_certificates

            _, cert, key = make_certificates(work / "pki", "127.0.0.1")
            self.tls = (cert, key)
        self.hosts: list[str] = []
        self._procs: list[subprocess.Popen[bytes]] = []
        self._relays: list[DelayRelay] = []

    def start(self) -> str:
        from tests.engine.registry_fixtures import start_registry

        reg, proc = start_registry(self.work / f"registry-{len(self.hosts)}", tls=self.tls)
        self._procs.append(proc)
        host = reg.host
        if self.delay_ms:
            self._relays.append(DelayRelay(host, self.delay_ms / 2000))
            host = self._relays[-1].host
        self.hosts.append(host)
        return host

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        from tests.engine.registry_fixtures import stop_registry

        for relay in self._relays:
            relay.close()
        for proc in self._procs:
            stop_registry(proc)


class DelayRelay:
    """A TCP relay on 127.0.0.1 to ``upstream`` that delivers each piece ``one_way`` seconds late."""

    def __init__(self, upstream: str, one_way: float) -> None:
        import socket
        import threading

        self.upstream = upstream.rsplit(":", 1)
        self.one_way = one_way
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.host = f"127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket
        import threading

        while True:
            try:
                near, _ = self.listener.accept()
            except OSError:
                return  # closed
            far = socket.create_connection((self.upstream[0], int(self.upstream[1])))
            for src, dst in ((near, far), (far, near)):
                for sock in (src, dst):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: Any, dst: Any) -> None:
        import queue
        import socket
        import threading

        pending: queue.Queue[tuple[float, bytes]] = queue.Queue()

        def deliver() -> None:
            while True:
                due, data = pending.get()
                time.sleep(max(0.0, due - time.monotonic()))
                try:
                    if not data:
                        dst.shutdown(socket.SHUT_WR)
                        return
                    dst.sendall(data)
                except OSError:
                    return

        threading.Thread(target=deliver, daemon=True).start()
        while True:
            try:
                data = src.recv(1 << 18)
            except OSError:
                data = b""
            pending.put((time.monotonic() + self.one_way, data))
            if not data:
                return

    def close(self) -> None:
        self.listener.close()


def measure(work: Path, root: str, archive: Path, registries: Registries, runs: int,
            skopeo: str | None, only: set[str]) -> list[tuple[str, float, float | None]]:
    def fresh(i: int) -> str:
        return str(work / f"store-{i}-{time.monotonic_ns()}")

    def out(i: int) -> str:
        return str(work / f"out-{i}-{time.monotonic_ns()}")

    rows: list[tuple[str, float, float | None]] = []

    if "save" in only:
        rows.append(("save", *paired(runs, nothing, lambda i: berth(root, "save", "-o", out(i) + ".tar", "bench/app:1"),
                                     (lambda i: tool(skopeo, "copy", "-q", f"oci-archive:{archive}:1",
                                                     f"docker-archive:{out(i)}.tar:bench/app:1")) if skopeo else None)))
    if "load" in only:
        rows.append(("load", *paired(runs, nothing, lambda i: berth(fresh(i), "load", "-q", "-i", str(archive)),
                                     (lambda i: tool(skopeo, "copy", "-q", f"docker-archive:{archive}",
                                                     f"oci:{out(i)}:x")) if skopeo else None)))
    if only & {"push", "pull", "fetch"}:  # pull and fetch read what push put in each round's registry
        row = ("push", *push(work, archive, registries, runs, skopeo))
        if "push" in only:
            rows.append(row)
    if "pull" in only:
        hosts = registries.hosts
        rows.append(("pull", *paired(runs, nothing, lambda i: berth(fresh(i), "pull", "-q", f"{hosts[i]}/b/app:1"),
                                     (lambda i: tool(skopeo, "copy", "-q", "--src-tls-verify=false",
                                                     f"docker://{hosts[i]}/s/app:1", f"oci:{out(i)}:x"))
                                     if skopeo else None)))
    if "fetch" in only:
        hosts = registries.hosts
        rows.append(("fetch", *paired(runs, nothing, lambda i: fetch(hosts[i], "b/app", out(i)),
                                      (lambda i: tool(skopeo, "copy", "-q", "--src-tls-verify=false",
                                                      f"docker://{hosts[i]}/s/app:1", f"oci:{out(i)}:x"))
                                      if skopeo else None)))
    return rows


def push(
    work: Path, archive: Path, registries: Registries, runs: int, skopeo: str | None
) -> tuple[float, float | None]:
    """Each round: a fresh registry, and a fresh berth store holding only the image (both untimed)."""
    stores = [str(work / f"push-store-{i}") for i in range(runs + 1)]

    def prepare(i: int) -> None:
        host = registries.start()
        berth(stores[i], "load", "-q", "-i", str(archive))
        berth(stores[i], "tag", "bench/app:1", f"{host}/b/app:1")

    hosts = registries.hosts
    return paired(runs, prepare, lambda i: berth(stores[i], "push", "-q", f"{hosts[i]}/b/app:1"),
                  (lambda i: tool(skopeo, "copy", "-q", "--dest-tls-verify=false", "--dest-compress",
                                  f"oci-archive:{archive}:1", f"docker://{hosts[i]}/s/app:1")) if skopeo else None)


def report(rows: list[tuple[str, float, float | None]], archive_mb: float) -> None:
    print(f"{'op':6} {'berth s':>9} {'MB/s':>7} {'skopeo s':>9} {'MB/s':>7} {'berth/skopeo':>13}")
    for op, b, s in rows:
        other = f"{s:9.2f} {archive_mb / s:7.0f} {b / s:12.2f}x" if s else f"{'-':>9} {'-':>7} {'-':>13}"
        print(f"{op:6} {b:9.2f} {archive_mb / b:7.0f} {other}")
    print("berth/skopeo < 1 means berth is faster. load, pull: berth also extracts the layers; skopeo only copies "
          "blobs (fetch: both only copy blobs).")


if __name__ == "__main__":
    raise SystemExit(main())
