"""A small read-only registry in a thread on 127.0.0.1, for what the real one will not do on demand:
a Bearer token service, 500s, dropped connections and corrupt blobs."""

from __future__ import annotations

import base64
import json
import socket
import ssl
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"


@dataclass
class FakeState:
    """What the fake serves and how it misbehaves; tests change it between pulls."""

    repo: str
    manifest: bytes
    blobs: dict[str, bytes]
    host: str = ""
    token_user: tuple[str, str] | None = None
    """When set, the token service wants these basic credentials."""
    manifest_status: int = 200
    drop_blob: str = ""
    corrupt_blob: str = ""
    token_requests: list[dict[str, Any]] = field(default_factory=list)
    ranges: list[str] = field(default_factory=list)
    redirect_blobs: str = ""
    """When set, a blob GET is answered with a 307 to this base URL + the request's path."""
    connections: int = 0
    """TCP connections the server accepted."""
    requests: list[tuple[str, str, str]] = field(default_factory=list)
    """(scheme, path, Authorization header) of every request, in order."""


def _handler(state: FakeState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            scheme = "https" if isinstance(self.connection, ssl.SSLSocket) else "http"
            state.requests.append((scheme, url.path, self.headers.get("Authorization", "")))
            if url.path.startswith("/storage/"):
                return self._blob(url.path.rsplit("/", 1)[1])
            if url.path == "/token":
                return self._token(urllib.parse.parse_qs(url.query))
            if self.headers.get("Authorization") != "Bearer tok-" + state.repo:
                challenge = (f'Bearer realm="http://{state.host}/token",service="fake",'
                             f'scope="repository:{state.repo}:pull"')
                return self._send(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"token wanted"}]}',
                                  {"WWW-Authenticate": challenge})
            if url.path == "/v2/":
                return self._send(200, b"{}")
            prefix = f"/v2/{state.repo}/"
            if url.path.startswith(prefix + "manifests/"):
                return self._manifest()
            if url.path.startswith(prefix + "blobs/") and state.redirect_blobs:
                location = state.redirect_blobs + "/storage/" + url.path.rsplit("/", 1)[1]
                return self._send(307, b"", {"Location": location})
            if url.path.startswith(prefix + "blobs/"):
                return self._blob(url.path.rsplit("/", 1)[1])
            self._send(404, b'{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known"}]}')

        def _token(self, query: dict[str, list[str]]) -> None:
            auth = self.headers.get("Authorization", "")
            state.token_requests.append({"scope": query.get("scope"), "service": query.get("service"), "auth": auth})
            if state.token_user is not None:
                want = "Basic " + base64.b64encode(":".join(state.token_user).encode()).decode()
                if auth != want:
                    return self._send(401, b'{"details":"incorrect username or password"}')
            self._send(200, json.dumps({"token": "tok-" + state.repo}).encode())

        def _manifest(self) -> None:
            if state.manifest_status != 200:
                return self._send(state.manifest_status,
                                  b'{"errors":[{"code":"UNKNOWN","message":"storage backend on fire"}]}')
            self._send(200, state.manifest, {"Content-Type": MANIFEST_TYPE})

        def _blob(self, digest: str) -> None:
            data = state.blobs.get(digest)
            if data is None:
                return self._send(404, b'{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown"}]}')
            if digest == state.corrupt_blob:
                data = data[:-1] + bytes([data[-1] ^ 1])
            start = self._range()
            if digest == state.drop_blob:
                return self._drop(data)
            self._send(206 if start else 200, data[start:], {"Content-Type": "application/octet-stream"})

        def _range(self) -> int:
            value = self.headers.get("Range", "")
            if value:
                state.ranges.append(value)
                return int(value.removeprefix("bytes=").split("-")[0])
            return 0

        def _drop(self, data: bytes) -> None:
            """Promise the whole blob, send half, hang up."""
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for key, value in {"Content-Type": "application/json", **(headers or {})}.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


class _Server(ThreadingHTTPServer):
    """Counts the connections it accepts; with a TLS context, speaks TLS to a client that starts a handshake
    and plain HTTP to one that does not, on the same port (for the scheme-downgrade redirect)."""

    def __init__(self, state: FakeState, tls: ssl.SSLContext | None) -> None:
        super().__init__(("127.0.0.1", 0), _handler(state))
        self.state = state
        self.tls = tls

    def get_request(self) -> tuple[Any, Any]:
        sock, addr = super().get_request()
        self.state.connections += 1
        if self.tls is not None:
            sock.settimeout(10)
            if sock.recv(1, socket.MSG_PEEK) == b"\x16":  # a TLS handshake record
                sock = self.tls.wrap_socket(sock, server_side=True)
            sock.settimeout(None)
        return sock, addr


@contextmanager
def fake_registry(state: FakeState, tls: ssl.SSLContext | None = None) -> Iterator[FakeState]:
    server = _Server(state, tls)
    state.host = f"127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
