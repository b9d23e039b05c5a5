"""A real registry for the tests: Debian's docker-registry, on 127.0.0.1 only, stopped by PID.

Its pytest fixtures (``registry``, ``auth_registry``, ``docker_config``) are in ``registry_plugin``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
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
{tls}{auth}"""
_TLS = """  tls:
    certificate: {cert}
    key: {key}
"""
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


def _wait_ready(host: str, proc: subprocess.Popen[bytes], log: Path, scheme: str = "http") -> None:
    import ssl

    unchecked = ssl.create_default_context()
    unchecked.check_hostname, unchecked.verify_mode = False, ssl.CERT_NONE  # only: is it up?
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"docker-registry exited: {log.read_text()[-2000:]}")
        try:
            urllib.request.urlopen(f"{scheme}://{host}/v2/", timeout=1,
                                   context=unchecked if scheme == "https" else None).close()
            return
        except urllib.error.HTTPError:
            return  # 401: up, and wants auth
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("docker-registry did not answer within 20s")


def start_registry(tmp: Path, *, htpasswd: bool = False, address: str = LOOPBACK, netns: str | None = None,
                   tls: tuple[Path, Path] | None = None) -> tuple[Registry, subprocess.Popen[bytes]]:
    """Start it listening on ``address`` (inside the network namespace at path ``netns`` when given);
    with ``tls`` (certificate, key), HTTPS only."""
    binary = need_tool("docker-registry")
    tmp.mkdir(parents=True, exist_ok=True)
    host = f"{address}:{free_port() if netns is None else 5000}"
    auth = ""
    if htpasswd:
        _htpasswd(tmp / "htpasswd")
        auth = _HTPASSWD_AUTH.format(htpasswd=tmp / "htpasswd")
    tls_block = _TLS.format(cert=tls[0], key=tls[1]) if tls else ""
    (tmp / "config.yml").write_text(_CONFIG.format(storage=tmp / "storage", addr=host, auth=auth, tls=tls_block))
    log = tmp / "registry.log"
    with open(log, "wb") as out:
        prefix = ["nsenter", f"--net={netns}"] if netns else []  # nsenter execs: the PID is the registry's
        proc = subprocess.Popen([*prefix, binary, "serve", str(tmp / "config.yml")],
                                stdout=out, stderr=subprocess.STDOUT,
                                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")}, start_new_session=True)
    try:
        _wait_ready(host, proc, log, "https" if tls else "http")
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


@contextmanager
def registry_off_loopback(tmp: Path, subnet: int, tls: tuple[Path, Path] | None = None) -> Iterator[Registry]:
    """A registry that is not on loopback: in a network namespace of the test's own, at 198.18.<subnet>.2:5000,
    reached over a veth pair from 198.18.<subnet>.1 (198.18.0.0/15 is set aside for benchmarks: RFC 2544).
    Made through netlink (pyroute2, a berth dependency); the namespace, the veth pair and the registry are
    gone afterwards, whatever happened."""
    from pyroute2 import IPRoute, NetNS, netns

    ns, veth = f"b7reg{os.getpid()}", f"b7h{os.getpid()}"
    here, there = f"198.18.{subnet}.1", f"198.18.{subnet}.2"
    proc = None
    try:
        netns.create(ns)
        with IPRoute() as ipr:
            ipr.link("add", ifname=veth, kind="veth", peer={"ifname": "eth0", "net_ns_fd": ns})
            (index,) = ipr.link_lookup(ifname=veth)
            ipr.addr("add", index=index, address=here, prefixlen=30)
            ipr.link("set", index=index, state="up")
        with NetNS(ns) as inside:
            (index,) = inside.link_lookup(ifname="eth0")
            inside.addr("add", index=index, address=there, prefixlen=30)
            inside.link("set", index=index, state="up")
            inside.link("set", index=inside.link_lookup(ifname="lo")[0], state="up")
        reg, proc = start_registry(tmp, address=there, netns=f"/run/netns/{ns}", tls=tls)
        yield reg
    finally:
        if proc is not None:
            stop_registry(proc)
        with contextlib.suppress(Exception):
            netns.remove(ns)  # takes the peer with it, and so the pair
        with IPRoute() as ipr, contextlib.suppress(Exception):
            if ipr.link_lookup(ifname=veth):
                ipr.link("del", ifname=veth)


def make_certificates(tmp: Path, ip: str) -> tuple[Path, Path, Path]:
    """(CA certificate, server certificate for ``ip``, its key), made with openssl for this test only."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed (Debian package: openssl)")
    tmp.mkdir(parents=True, exist_ok=True)

    def run(*argv: str) -> None:
        subprocess.run([openssl, *argv], check=True, capture_output=True, timeout=60, cwd=tmp)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=berth test CA", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", f"/CN={ip}")
    (tmp / "ext.cnf").write_text(f"subjectAltName=IP:{ip}\nbasicConstraints=CA:FALSE\n"
                                 "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf")
    return tmp / "ca.pem", tmp / "server.pem", tmp / "server.key"


def private_docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private DOCKER_CONFIG (and HOME), so no test reads or writes the real ~/.docker."""
    path = tmp_path / "docker-config"
    path.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(path))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return path / "config.json"
