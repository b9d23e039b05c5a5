"""A real registry for the tests: Debian's docker-registry, on 127.0.0.1 only, stopped by PID."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from .distribution_fixtures import need_tool

LOOPBACK = "127.0.0.1"
USER, PASSWORD = "berth", "s3cret-pass"
_CONFIG = """version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: {storage}
  delete:
    enabled: true
http:
  addr: {addr}
  secret: berth-test-secret
{auth}"""
_HTPASSWD_AUTH = """auth:
  htpasswd:
    realm: berth-test
    path: {htpasswd}
"""


@dataclass
class Registry:
    """A running registry: its host:port, storage dir and log."""

    host: str
    storage: Path
    log: Path
    pid: int

    def requests(self, needle: str) -> int:
        """How many access-log lines contain ``needle`` (e.g. ``"GET /v2/app/blobs/"``)."""
        return sum(1 for line in self.log.read_text(errors="replace").splitlines() if needle in line)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def _htpasswd(path: Path) -> None:
    tool = need_tool("htpasswd")
    out = subprocess.run([tool, "-Bbn", USER, PASSWORD], check=True, capture_output=True, text=True).stdout
    path.write_text(out)


def _wait_ready(host: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"docker-registry exited: {log.read_text()[-2000:]}")
        try:
            urllib.request.urlopen(f"http://{host}/v2/", timeout=1).close()
            return
        except urllib.error.HTTPError:
            return  # 401: up, and wants auth
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("docker-registry did not answer within 20s")


def start_registry(tmp: Path, *, htpasswd: bool = False) -> tuple[Registry, subprocess.Popen[bytes]]:
    binary = need_tool("docker-registry")
    tmp.mkdir(parents=True, exist_ok=True)
    host = f"{LOOPBACK}:{free_port()}"
    auth = ""
    if htpasswd:
        _htpasswd(tmp / "htpasswd")
        auth = _HTPASSWD_AUTH.format(htpasswd=tmp / "htpasswd")
    (tmp / "config.yml").write_text(_CONFIG.format(storage=tmp / "storage", addr=host, auth=auth))
    log = tmp / "registry.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([binary, "serve", str(tmp / "config.yml")], stdout=out, stderr=subprocess.STDOUT,
                                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")}, start_new_session=True)
    try:
        _wait_ready(host, proc, log)
    except BaseException:
        stop_registry(proc)
        raise
    return Registry(host, tmp / "storage", log, proc.pid), proc


def stop_registry(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


@contextmanager
def running_registry(tmp: Path, *, htpasswd: bool = False) -> Iterator[Registry]:
    """A registry on 127.0.0.1:<free port> for the ``with`` block; with ``htpasswd``, basic auth as USER/PASSWORD."""
    reg, proc = start_registry(tmp, htpasswd=htpasswd)
    try:
        yield reg
    finally:
        stop_registry(proc)


def private_docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private DOCKER_CONFIG (and HOME), so no test reads or writes the real ~/.docker."""
    path = tmp_path / "docker-config"
    path.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(path))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return path / "config.json"
