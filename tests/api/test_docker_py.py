"""docker-py (PyPI ``docker``), a client nobody here wrote, against berth's socket."""

from __future__ import annotations

import docker
import pytest
from docker.errors import APIError, NotFound

from . import conftest

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def client(server: conftest.Server):  # type: ignore[no-untyped-def]
    c = docker.DockerClient(base_url=server.url, timeout=60)
    try:
        yield c
    finally:
        c.close()


def test_ping_and_version(client) -> None:  # type: ignore[no-untyped-def]
    assert client.ping() is True
    version = client.version()
    assert version["ApiVersion"] == "1.51" and version["MinAPIVersion"] == "1.24"
    assert version["Components"][0]["Name"] == "Engine"
    assert client.info()["Images"] == 1


def test_run_detached_logs_wait_remove(client, server: conftest.Server) -> None:  # type: ignore[no-untyped-def]
    container = client.containers.run("busybox", ["sh", "-c", "echo out; echo err >&2; exit 3"], detach=True,
                                      labels={"suite": "api"})
    assert container.wait(timeout=60) == {"StatusCode": 3, "Error": None}
    # stdout and stderr apart: the 8-byte frames carry which stream each chunk came from
    assert container.logs(stdout=True, stderr=False) == b"out\n"
    assert container.logs(stdout=False, stderr=True) == b"err\n"
    container.reload()
    assert container.status == "exited" and container.labels == {"suite": "api"}
    listed = client.containers.list(all=True, filters={"label": "suite=api", "status": "exited"})
    assert [c.id for c in listed] == [container.id]
    assert client.containers.list() == []  # not running: only with all
    container.remove()
    with pytest.raises(NotFound, match="No such container"):
        client.containers.get(container.id)
    assert server.engine.container_list(all=True) == []


def test_run_attached_with_remove(client, server: conftest.Server) -> None:  # type: ignore[no-untyped-def]
    assert client.containers.run("busybox", ["echo", "attached"], remove=True) == b"attached\n"
    assert server.engine.container_list(all=True) == []


def test_images_list_get_tag_remove(client) -> None:  # type: ignore[no-untyped-def]
    assert [image.tags for image in client.images.list()] == [["busybox:latest"]]
    image = client.images.get("busybox")
    assert image.id.startswith("sha256:") and image.attrs["Config"]["Cmd"]
    assert image.tag("mybox", "v1") is True
    assert sorted(client.images.get("mybox:v1").tags) == ["busybox:latest", "mybox:v1"]
    assert {"Id", "Created", "CreatedBy", "Size"} <= set(image.history()[0])
    client.images.remove("mybox:v1")
    assert client.images.get("busybox").tags == ["busybox:latest"]
    with pytest.raises(NotFound):
        client.images.get("mybox:v1")


def test_errors_are_dockers(client) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(APIError) as refused:
        client.api.create_container("busybox", host_config=client.api.create_host_config(cap_add=["NET_ADMIN"]))
    assert refused.value.status_code == 400 and "CapAdd" in refused.value.explanation
    with pytest.raises(NotFound, match="busybox:nope"):
        client.containers.create("busybox:nope")
    with pytest.raises(APIError) as swarm:
        client.swarm.init()
    assert swarm.value.status_code == 503
    running = client.containers.run("busybox", ["sleep", "30"], detach=True)
    with pytest.raises(APIError) as busy:
        running.remove()
    assert busy.value.status_code == 409
    running.remove(force=True)
