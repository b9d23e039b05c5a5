"""16 clients at once on one store: run, exec, stop, rm, build, tag, rmi on shared images.

BERTH_SOAK_SECONDS (default 60) sets how long the clients work. A watchdog
fails any command that hangs; only the expected conflicts may fail.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.conftest import mounts_under
from tests.engine.test_crash import REPO

SECONDS = float(os.environ.get("BERTH_SOAK_SECONDS", "60"))
CLIENTS = 16
WATCHDOG = 90  # seconds one command may take before we call it a deadlock
EXPECTED = ("No such container", "is not running", "conflict:", "No such image", "is already in use",
            "is running", "already", "Conflict")


class Client(threading.Thread):
    def __init__(self, n: int, root: Path, context: Path, deadline: float) -> None:
        super().__init__(name=f"client-{n}")
        self.n, self.root, self.context, self.deadline = n, root, context, deadline
        self.rng = random.Random(1000 + n)
        self.expect: dict[str, str] = {}  # container name -> "running" | "exited" | "gone"
        self.ops = 0
        self.unexpected: list[str] = []
        self.hung: list[str] = []

    def berth(self, *argv: str) -> subprocess.CompletedProcess[str] | None:
        try:
            done = subprocess.run([sys.executable, "-m", "tui.cli", "--root", str(self.root), *argv],
                                  capture_output=True, text=True, timeout=WATCHDOG, cwd=REPO)
        except subprocess.TimeoutExpired:
            self.hung.append(" ".join(argv))
            return None
        self.ops += 1
        if done.returncode not in (0, 1) or "Traceback" in done.stderr or (
                done.returncode == 1 and not any(e in done.stderr for e in EXPECTED)):
            self.unexpected.append(f"{' '.join(argv)} -> {done.returncode}: {done.stderr.strip()[-300:]}")
        return done

    def run(self) -> None:
        i = 0
        while time.monotonic() < self.deadline and not self.hung:
            i += 1
            self.step(self.rng.choice(["run", "run", "exec", "stop", "rm", "build", "tag", "rmi"]), i)

    def step(self, op: str, i: int) -> None:
        mine = [c for c, s in self.expect.items() if s != "gone"]
        name = self.rng.choice(mine) if mine else None
        if op == "run" or name is None:
            new = f"c{self.n}-{i}"
            done = self.berth("run", "-d", "--name", new, "busybox", "sleep", "300")
            if done and done.returncode == 0:
                self.expect[new] = "running"
        elif op == "exec":
            done = self.berth("exec", name, "true")
            if done and done.returncode == 0 and self.expect[name] != "running":
                self.unexpected.append(f"exec worked in {name}, which should be {self.expect[name]}")
        elif op == "stop":
            if self.berth("stop", "-t", "1", name):
                self.expect[name] = "exited"
        elif op == "rm":
            if self.berth("rm", "-f", name):
                self.expect[name] = "gone"
        elif op == "build":
            self.berth("build", "-q", "-t", f"built{self.n}", str(self.context))
        elif op == "tag":
            self.berth("tag", "busybox", f"shared:{self.n}-{i}")
        else:
            self.berth("rmi", f"shared:{self.n}-{i - 1}")


def _states(root: Path) -> dict[str, str]:
    out = subprocess.run([sys.executable, "-m", "tui.cli", "--root", str(root), "ps", "-a", "--format", "json"],
                         capture_output=True, text=True, timeout=60, cwd=REPO, check=True).stdout
    return {row["Names"]: row["State"] for row in map(json.loads, out.splitlines())}


def test_sixteen_clients_in_parallel(store_root: Path, tmp_path: Path) -> None:
    boot = subprocess.run([sys.executable, "-m", "tui.cli", "--root", str(store_root), "bootstrap"],
                          capture_output=True, text=True, cwd=REPO)
    assert boot.returncode == 0, boot.stderr
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM busybox\nRUN echo built > /built\nCMD [\"sh\"]\n")
    deadline = time.monotonic() + SECONDS
    clients = [Client(n, store_root, context, deadline) for n in range(CLIENTS)]
    try:
        for c in clients:
            c.start()
        for c in clients:
            c.join(timeout=SECONDS + WATCHDOG * 2)
        assert not any(c.is_alive() for c in clients), "a client never finished: deadlock"
        assert [h for c in clients for h in c.hung] == []
        assert [u for c in clients for u in c.unexpected] == []
        states = _states(store_root)
        for c in clients:
            for name, want in c.expect.items():
                have = states.get(name, "gone")
                assert have == want or (want == "exited" and have == "exited"), (name, want, have)
        total = sum(c.ops for c in clients)
        print(f"\n{total} operations by {CLIENTS} clients in {SECONDS:.0f} s")
        assert total >= CLIENTS * 3
        check = subprocess.run([sys.executable, "-m", "tui.cli", "--root", str(store_root), "system", "check"],
                               capture_output=True, text=True, cwd=REPO)
        assert check.returncode == 0, check.stdout
    finally:
        subprocess.run([sys.executable, "-m", "tui.cli", "--root", str(store_root), "rm", "-f",
                        *[n for c in clients for n, s in c.expect.items() if s != "gone"]],
                       capture_output=True, cwd=REPO, timeout=120)
    assert mounts_under(store_root) == []
