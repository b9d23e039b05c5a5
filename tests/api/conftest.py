"""A real ``berth system service`` on a temporary unix socket over the test's store, with busybox in it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.engine.containers_fixtures import clean_containers

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT = 20.0


@dataclass
class Server:
    """A running service: where it listens and the engine over the same store (for setup and checks)."""

    socket: str
    engine: object
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"


def start_service(root: Path, socket_path: str, *extra: str) -> subprocess.Popen[bytes]:
    """``berth --root ROOT system service unix://SOCKET``, as a user starts it; returns once it answers."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "--root", str(root), "system", "service", f"unix://{socket_path}", *extra],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + START_TIMEOUT
    while not os.path.exists(socket_path):
        if process.poll() is not None:
            raise AssertionError(f"service exited {process.returncode}: {process.stderr.read().decode()}")
        assert time.monotonic() < deadline, "service did not create its socket"
        time.sleep(0.05)
    return process


def stop_service(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM by PID (its clean shutdown), SIGKILL if it does not go."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
    if process.stderr is not None:
        process.stderr.close()


@pytest.fixture
def short_dir() -> Iterator[str]:
    """A directory with a short path: a unix socket's path is at most 107 bytes, pytest's tmp paths are long."""
    path = tempfile.mkdtemp(prefix="berth-api-", dir="/tmp")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def server(engine, store_root: Path, short_dir: str) -> Iterator[Server]:  # type: ignore[no-untyped-def]
    """The service over a store with busybox:latest; afterwards the process, its containers and monitor go."""
    engine.image_bootstrap("busybox:latest")
    process = start_service(store_root, os.path.join(short_dir, "docker.sock"), "--time", "0")
    try:
        yield Server(os.path.join(short_dir, "docker.sock"), engine, process)
    finally:
        stop_service(process)
        clean_containers(engine)
