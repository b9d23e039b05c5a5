"""The wire itself: version prefixes, ping headers, error bodies, streams, the socket and idle exit."""

from __future__ import annotations

import http.client
import json
import os
import socket
import stat
import struct
import time
from urllib.parse import quote

import pytest

from . import conftest

pytestmark = pytest.mark.timeout(120)


class UnixHTTP(http.client.HTTPConnection):
    """http.client over a unix socket (stdlib, so no client library shapes what we see)."""

    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=30)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(self.path)


def call(server: conftest.Server, method: str, path: str, body: object = None) -> tuple[int, dict[str, str], bytes]:
    conn = UnixHTTP(server.socket)
    try:
        data = None if body is None else json.dumps(body)
        conn.request(method, path, data, {"Content-Type": "application/json"} if data else {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def test_ping_head_and_get(server: conftest.Server) -> None:
    for method in ("HEAD", "GET"):
        status, headers, body = call(server, method, "/_ping")
        assert status == 200 and body == (b"" if method == "HEAD" else b"OK")
        assert (headers["Api-Version"], headers["Ostype"], headers["Builder-Version"],
                headers["Docker-Experimental"]) == ("1.51", "linux", "1", "false")


def test_versioned_and_bare_paths(server: conftest.Server) -> None:
    for path in ("/containers/json", "/v1.24/containers/json", "/v1.51/containers/json", "/v1.99/containers/json"):
        assert call(server, "GET", path)[::2] == (200, b"[]"), path
    status, _, body = call(server, "GET", "/v1.12/containers/json")
    assert status == 400 and "Minimum supported API version is 1.24" in json.loads(body)["message"]


def test_errors_are_json(server: conftest.Server) -> None:
    cases = [("GET", "/containers/nope/json", 404, "No such container: nope"),
             ("DELETE", "/images/nope:1", 404, "nope:1"),
             ("POST", "/containers/create", 400, "Image"),
             ("GET", "/v1.41/nodes", 503, "swarm"),
             ("GET", "/plugins", 501, "berth does not serve"),
             ("GET", "/no/such/endpoint", 404, "page not found")]
    for method, path, want, text in cases:
        status, headers, body = call(server, method, path)
        assert status == want, (path, body)
        assert headers["Content-Type"].startswith("application/json") and text in json.loads(body)["message"]


def test_create_maps_host_config(server: conftest.Server) -> None:
    body = {"Image": "busybox", "Cmd": ["true"], "Env": ["A=1"], "WorkingDir": "/tmp", "Labels": {"k": "v"},
            "HostConfig": {"Memory": 64 << 20, "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 2},
                           "Binds": ["/tmp:/host:ro"], "NetworkMode": "none"}}
    status, _, data = call(server, "POST", "/containers/create?name=mapped", body)
    assert status == 201, data
    info = server.engine.container_inspect("mapped")
    assert info["Config"]["Env"][-1] == "A=1" or "A=1" in info["Config"]["Env"]
    assert info["Config"]["WorkingDir"] == "/tmp" and info["Config"]["Labels"] == {"k": "v"}
    assert info["HostConfig"]["Memory"] == 64 << 20 and info["HostConfig"]["NetworkMode"] == "none"
    assert info["HostConfig"]["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 2}
    status, _, data = call(server, "POST", "/containers/create", {"Image": "busybox", "Healthcheck": {"Test": ["x"]}})
    assert status == 400 and b"Healthcheck" in data


def test_logs_are_framed_without_tty(server: conftest.Server) -> None:
    _, _, data = call(server, "POST", "/containers/create",
                           {"Image": "busybox", "Cmd": ["sh", "-c", "echo a; echo bb >&2"]})
    cid = json.loads(data)["Id"]
    assert call(server, "POST", f"/containers/{cid}/start")[0] == 204
    assert json.loads(call(server, "POST", f"/containers/{cid}/wait")[2]) == {"StatusCode": 0, "Error": None}
    _, headers, raw = call(server, "GET", f"/containers/{cid}/logs?stdout=1&stderr=1")
    frames = []
    while raw:
        kind, size = struct.unpack(">BxxxL", raw[:8])
        frames.append((kind, raw[8:8 + size]))
        raw = raw[8 + size:]
    assert sorted(frames) == [(1, b"a\n"), (2, b"bb\n")]
    assert headers["Content-Type"] == "application/vnd.docker.multiplexed-stream"


def test_events_stream_filters(server: conftest.Server) -> None:
    since = int(time.time()) - 1
    _, _, data = call(server, "POST", "/containers/create?name=ev", {"Image": "busybox", "Cmd": ["true"]})
    cid = json.loads(data)["Id"]
    call(server, "POST", f"/containers/{cid}/start")
    call(server, "POST", f"/containers/{cid}/wait")
    until = int(time.time()) + 1
    filters = quote(json.dumps({"type": {"container": True}, "container": {"ev": True}}))
    status, _, body = call(server, "GET", f"/events?since={since}&until={until}&filters={filters}")
    lines = [json.loads(line) for line in body.splitlines() if line.strip()]
    assert status == 200 and lines and all(e["Type"] == "container" and e["id"] == cid for e in lines)
    assert "create" in [e["Action"] for e in lines] and "start" in [e["Action"] for e in lines]


def test_socket_is_root_only(server: conftest.Server) -> None:
    info = os.stat(server.socket)
    assert stat.S_ISSOCK(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o660
    assert (info.st_uid, info.st_gid) == (0, 0)


def test_idle_exit_and_refused_second_server(engine, store_root, short_dir: str) -> None:  # type: ignore[no-untyped-def]
    path = os.path.join(short_dir, "idle.sock")
    process = conftest.start_service(store_root, path, "--time", "1")
    try:
        second = conftest.subprocess.run(
            [conftest.sys.executable, "-m", "tui.cli", "--root", str(store_root), "system", "service",
             f"unix://{path}"], cwd=conftest.REPO, capture_output=True, text=True, timeout=30)
        assert second.returncode == 1 and "another server is listening" in second.stderr
        assert process.wait(15) == 0  # nobody asked anything for a second: it went by itself
        assert not os.path.exists(path)
    finally:
        conftest.stop_service(process)
