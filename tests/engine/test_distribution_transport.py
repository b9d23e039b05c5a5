"""The registry transport: connections reused within a pull, proxies taken from the environment, and the
registry's credentials kept off a redirect to another origin. Every server here is on 127.0.0.1."""

from __future__ import annotations

import http.client
import json
import socket
import socketserver
import ssl
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from engine.distribution.pull import PARALLEL_DOWNLOADS

from .distribution_fixtures import fresh_engine, saved_blobs
from .fake_registry import FakeState, fake_registry
from .registry_fixtures import Registry, free_port, make_certificates

pytest_plugins = ["tests.engine.registry_plugin"]  # docker_config

_PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture
def image(engine: Any, tmp_path: Path, docker_config: Path,
          monkeypatch: pytest.MonkeyPatch) -> tuple[str, bytes, dict[str, bytes]]:
    """app:1 as (image ID, manifest, blobs), from berth's own save; no proxy in the environment."""
    for var in _PROXY_VARS:
        monkeypatch.delenv(var, raising=False)
        monkeypatch.delenv(var.lower(), raising=False)
    return saved_blobs(engine, tmp_path)


def _layers(manifest: bytes) -> set[str]:
    return {layer["digest"] for layer in json.loads(manifest)["layers"]}


def test_one_pull_reuses_its_connections(image: tuple[str, bytes, dict[str, bytes]], tmp_path: Path) -> None:
    """Keep-alive: a handful of TCP connections for the whole pull, not one per request."""
    image_id, manifest, blobs = image
    with fake_registry(FakeState("team/app", manifest, blobs)) as state:
        other = fresh_engine(tmp_path, "other")
        assert other.image_pull(f"{state.host}/team/app:1").image_id == image_id
    # The https probe that finds a plain-HTTP server costs one; the parallel downloads may open one each.
    assert len(state.requests) >= 7
    assert state.connections <= 2 + PARALLEL_DOWNLOADS < len(state.requests)


@contextmanager
def _counting_relay(upstream: str) -> Iterator[tuple[str, list[int]]]:
    """A TCP relay on 127.0.0.1 in front of ``upstream`` (host:port); yields its host:port and a one-item
    list counting the connections it accepted."""
    host, port = upstream.rsplit(":", 1)
    accepted = [0]

    class Relay(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            accepted[0] += 1
            with socket.create_connection((host, int(port)), timeout=30) as far:
                pump = threading.Thread(target=_pipe, args=(far, self.request), daemon=True)
                pump.start()
                _pipe(self.request, far)
                pump.join(30)

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Relay)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", accepted
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(1 << 16):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def test_a_chunked_push_reuses_its_connections(engine: Any, image: tuple[str, bytes, dict[str, bytes]],
                                               registry: Registry) -> None:
    """Every PATCH of a chunked upload used to open a connection of its own; now the pool's few carry them."""
    with _counting_relay(registry.host) as (relay, accepted):
        name = f"{relay}/team/app:1"
        engine.image_tag("app:1", name)
        engine.image_push(name, chunk_size=64 * 1024)
        patches = registry.requests("PATCH /v2/team/app/blobs/uploads/")
        assert patches >= 10
        from engine.distribution.push import PARALLEL_UPLOADS

        assert accepted[0] <= 2 + PARALLEL_UPLOADS < patches


@contextmanager
def _recording_proxy(upstream_port: int) -> Iterator[tuple[str, list[tuple[str, str]]]]:
    """A forward proxy on 127.0.0.1 that sends every request, whatever its host, to 127.0.0.1:upstream_port,
    and refuses CONNECT (so HTTPS through it fails and the client falls back to plain HTTP).
    Yields its URL and the (method, target) of every request it got."""
    seen: list[tuple[str, str]] = []

    class Proxy(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_CONNECT(self) -> None:
            seen.append(("CONNECT", self.path))
            self.send_response(403)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:
            seen.append(("GET", self.path))
            target = urllib.parse.urlsplit(self.path)
            conn = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=30)
            try:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("proxy-connection", "host")}
                headers["Host"] = target.netloc
                conn.request("GET", target.path + ("?" + target.query if target.query else ""), headers=headers)
                answer = conn.getresponse()
                body = answer.read()
            finally:
                conn.close()
            self.send_response(answer.status)
            for key, value in answer.getheaders():
                if key.lower() not in ("content-length", "connection", "transfer-encoding"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_the_proxy_in_the_environment_is_used_and_loopback_is_not_proxied(
        image: tuple[str, bytes, dict[str, bytes]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTP_PROXY/HTTPS_PROXY set, NO_PROXY unset. The registry is named 0.0.0.0:<a port nobody listens on>:
    not loopback by name, so proxied, and any packet a client sent there without the proxy would still stay
    on this machine (Linux connects 0.0.0.0 to itself: refused). A 127.0.0.1 registry is reached directly."""
    image_id, manifest, blobs = image
    with fake_registry(FakeState("team/app", manifest, blobs)) as state:
        port = int(state.host.rsplit(":", 1)[1])
        with _recording_proxy(port) as (proxy, seen):
            monkeypatch.setenv("HTTP_PROXY", proxy)
            monkeypatch.setenv("HTTPS_PROXY", proxy)
            nowhere = f"0.0.0.0:{free_port()}"
            other = fresh_engine(tmp_path, "other")
            assert other.image_pull(f"{nowhere}/team/app:1", insecure=True).image_id == image_id
            fetched = {urllib.parse.urlsplit(url).path for method, url in seen if method == "GET"}
            assert {f"/v2/team/app/blobs/{d}" for d in _layers(manifest)} <= fetched
            assert all(urllib.parse.urlsplit(url).netloc == nowhere for method, url in seen if method == "GET")
            assert ("CONNECT", nowhere) in seen  # https was tried first, through the proxy too

            seen.clear()
            third = fresh_engine(tmp_path, "third")
            assert third.image_pull(f"{state.host}/team/app:1").image_id == image_id
            assert seen == []


def test_a_redirect_to_another_port_gets_no_credentials(image: tuple[str, bytes, dict[str, bytes]],
                                                        tmp_path: Path) -> None:
    """The registry (Bearer tokens) sends blob GETs to a storage server on another port of 127.0.0.1."""
    image_id, manifest, blobs = image
    with fake_registry(FakeState("storage", b"", blobs)) as storage, \
            fake_registry(FakeState("team/app", manifest, blobs, redirect_blobs="")) as state:
        state.redirect_blobs = f"http://{storage.host}"
        other = fresh_engine(tmp_path, "other")
        assert other.image_pull(f"{state.host}/team/app:1").image_id == image_id
    assert any(auth.startswith("Bearer ") for _, _, auth in state.requests)
    got = [(path, auth) for _, path, auth in storage.requests]
    assert {path.rsplit("/", 1)[1] for path, _ in got} >= _layers(manifest)
    assert all(auth == "" for _, auth in got)


def test_a_redirect_from_https_to_http_on_the_same_port_gets_no_credentials(
        image: tuple[str, bytes, dict[str, bytes]], tmp_path: Path) -> None:
    """Same host and port, another scheme: another origin. The token must not go out in clear text."""
    image_id, manifest, blobs = image
    _, cert, key = make_certificates(tmp_path / "pki", "127.0.0.1")
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    with fake_registry(FakeState("team/app", manifest, blobs), tls=tls) as state:
        state.redirect_blobs = f"http://{state.host}"
        other = fresh_engine(tmp_path, "other")
        assert other.image_pull(f"{state.host}/team/app:1").image_id == image_id
    assert any(scheme == "https" and auth.startswith("Bearer ") for scheme, _, auth in state.requests)
    plain = [(path, auth) for scheme, path, auth in state.requests if path.startswith("/storage/")]
    assert {path.rsplit("/", 1)[1] for path, _ in plain} >= _layers(manifest)
    assert all(scheme == "http" and auth == "" for scheme, path, auth in state.requests
               if path.startswith("/storage/"))


def test_same_origin_is_scheme_host_and_port() -> None:
    from engine.distribution.transport import same_origin

    assert same_origin("https://r.example/v2/", "https://R.example:443/x")
    assert same_origin("http://127.0.0.1:5000/a", "http://127.0.0.1:5000/b")
    assert not same_origin("https://127.0.0.1:5000/a", "http://127.0.0.1:5000/a")
    assert not same_origin("http://127.0.0.1:5000/a", "http://127.0.0.1:5001/a")
    assert not same_origin("https://r.example/a", "https://s.example/a")
