"""pull and push against Debian's docker-registry on 127.0.0.1 (and nothing else)."""

from __future__ import annotations

import base64
import json
import os
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from engine.errors import AuthError, ImageNotFound, ManifestUnknown, PlatformNotFound

from .distribution_fixtures import (
    build_multilayer,
    foreign_tree,
    fresh_engine,
    layout_of_tar,
)
from .registry_fixtures import PASSWORD, USER, Registry

pytest_plugins = ["tests.engine.registry_plugin"]  # registry, auth_registry, docker_config


def _actions(events: list[Any]) -> list[str]:
    return [e.action for e in events]


@pytest.fixture
def pushed(engine: Any, registry: Registry, tmp_path: Path, docker_config: Path) -> tuple[str, str]:
    """app:1 built locally and pushed as <registry>/team/app:1."""
    image_id = build_multilayer(engine, tmp_path)
    name = f"{registry.host}/team/app:1"
    engine.image_tag("app:1", name)
    engine.image_push(name)
    return image_id, name


def test_push_remove_pull_gives_the_same_image(engine: Any, pushed: tuple[str, str]) -> None:
    image_id, name = pushed
    engine.image_remove(name)
    engine.image_remove("app:1")
    assert not [s for s in engine.image_list() if s.id == image_id]
    events: list[Any] = []
    result = engine.image_pull(name, progress=events.append)
    assert result.image_id == image_id == engine.image_resolve(name)
    assert "Already exists" in _actions(events)  # busybox's layer stayed for busybox:latest
    history = engine.image_history(name)
    assert history[0].id == image_id and {h.id for h in history[1:]} == {"<missing>"}
    assert engine.system_check().problems == ()
    assert not os.listdir(Path(engine.root) / "image/overlay2/distribution/downloads")


def test_pull_into_an_empty_store_and_history_shows_missing(pushed: tuple[str, str], tmp_path: Path) -> None:
    image_id, name = pushed
    other = fresh_engine(tmp_path, "other")
    events: list[Any] = []
    assert other.image_pull(name, progress=events.append).image_id == image_id
    assert "Downloading" in _actions(events) and "Already exists" not in _actions(events)
    assert [h.id for h in other.image_history(name)][1:] == ["<missing>"] * (len(other.image_history(name)) - 1)


def test_a_second_push_skips_every_blob(engine: Any, pushed: tuple[str, str], registry: Registry) -> None:
    _, name = pushed
    uploads = registry.requests("POST /v2/team/app/blobs/uploads/")
    events: list[Any] = []
    engine.image_push(name, progress=events.append)
    assert _actions(events).count("Layer already exists") == 3
    assert registry.requests("POST /v2/team/app/blobs/uploads/") == uploads


def test_push_to_a_sibling_repository_mounts_the_layers(engine: Any, pushed: tuple[str, str],
                                                        registry: Registry) -> None:
    _, name = pushed
    engine.image_tag(name, f"{registry.host}/other/app:2")
    events: list[Any] = []
    engine.image_push(f"{registry.host}/other/app:2", progress=events.append)
    assert _actions(events).count("Mounted from team/app") == 3
    assert registry.requests("PATCH /v2/other/app/") == 0


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_chunked_uploads_and_both_compressions_round_trip(engine: Any, registry: Registry, tmp_path: Path,
                                                          docker_config: Path, compression: str) -> None:
    image_id = build_multilayer(engine, tmp_path)
    name = f"{registry.host}/chunks/{compression}:1"
    engine.image_tag("app:1", name)
    engine.image_push(name, compression=compression, chunk_size=64 * 1024)
    assert registry.requests(f"PATCH /v2/chunks/{compression}/blobs/uploads/") > 10
    media = "manifest.v1+json" if compression == "zstd" else "distribution.manifest.v2+json"
    assert registry.requests(f"PUT /v2/chunks/{compression}/manifests/1") == 1
    other = fresh_engine(tmp_path, "other")
    assert other.image_pull(name).image_id == image_id
    manifest = _get_manifest(registry, f"chunks/{compression}", "1")
    assert media in manifest["mediaType"]
    assert all(layer["mediaType"].endswith(compression) for layer in manifest["layers"])


_ACCEPT = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"


def _get_manifest(registry: Registry, repo: str, ref: str) -> dict[str, Any]:
    req = urllib.request.Request(f"http://{registry.host}/v2/{repo}/manifests/{ref}", headers={"Accept": _ACCEPT})
    with urllib.request.urlopen(req, timeout=10) as response:
        value: dict[str, Any] = json.load(response)
        return value


def _put_index(registry: Registry, repo: str, tag: str, platforms: list[tuple[str, str]],
               media_type: str = "application/vnd.oci.image.index.v1+json") -> None:
    """An OCI index under ``tag`` whose entries (one per platform) all point at the manifest of ``1``."""
    req = urllib.request.Request(f"http://{registry.host}/v2/{repo}/manifests/1", method="HEAD", headers={
        "Accept": "application/vnd.docker.distribution.manifest.v2+json"})
    with urllib.request.urlopen(req, timeout=10) as response:
        digest, size = response.headers["Docker-Content-Digest"], int(response.headers["Content-Length"])
    index = json.dumps({"schemaVersion": 2, "mediaType": media_type, "manifests": [
        {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "digest": digest, "size": size,
         "platform": {"os": os_, "architecture": arch}} for os_, arch in platforms]}).encode()
    put = urllib.request.Request(f"http://{registry.host}/v2/{repo}/manifests/{tag}", data=index, method="PUT",
                                 headers={"Content-Type": media_type})
    urllib.request.urlopen(put, timeout=10).close()


@pytest.mark.parametrize("media_type", ["application/vnd.oci.image.index.v1+json",
                                        "application/vnd.docker.distribution.manifest.list.v2+json"])
def test_an_index_picks_linux_amd64_by_default_and_platform_chooses(pushed: tuple[str, str], registry: Registry,
                                                                    tmp_path: Path, media_type: str) -> None:
    image_id, _ = pushed
    _put_index(registry, "team/app", "multi", [("linux", "arm64"), ("linux", "amd64")], media_type)
    _put_index(registry, "team/app", "armonly", [("linux", "arm64"), ("windows", "amd64")], media_type)
    other = fresh_engine(tmp_path, "other")
    assert other.image_pull(f"{registry.host}/team/app:multi").image_id == image_id
    with pytest.raises(PlatformNotFound, match="linux/amd64.*linux/arm64, windows/amd64"):
        other.image_pull(f"{registry.host}/team/app:armonly")
    assert other.image_pull(f"{registry.host}/team/app:armonly", platform="linux/arm64").image_id == image_id


def test_a_missing_tag_is_a_clear_error_and_stores_nothing(registry: Registry, tmp_path: Path,
                                                          docker_config: Path) -> None:
    other = fresh_engine(tmp_path, "other")
    with pytest.raises(ManifestUnknown, match="manifest for .*/nothing/here:v9 not found"):
        other.image_pull(f"{registry.host}/nothing/here:v9")
    assert other.image_list() == [] and other.store.layers.list() == []


def test_push_of_a_name_with_no_local_image(engine: Any, registry: Registry, docker_config: Path) -> None:
    with pytest.raises(ImageNotFound, match="does not exist locally"):
        engine.image_push(f"{registry.host}/none:1")


def test_an_interrupted_pull_resumes_without_refetching_finished_layers(pushed: tuple[str, str],
                                                                       registry: Registry, tmp_path: Path) -> None:
    image_id, name = pushed
    other = fresh_engine(tmp_path, "other")

    def crash(event: Any) -> None:
        if event.action == "Extracting":
            raise KeyboardInterrupt  # the user pressed Ctrl-C while the first layer was applied

    with pytest.raises(KeyboardInterrupt):
        other.image_pull(name, progress=crash)
    downloads = Path(other.root) / "image/overlay2/distribution/downloads"
    finished = [n for n in os.listdir(downloads) if not n.endswith(".partial")]
    assert finished and other.image_list() == []
    before = {d: registry.requests(f"GET /v2/team/app/blobs/sha256:{d}") for d in finished}
    assert other.image_pull(name).image_id == image_id
    assert {d: registry.requests(f"GET /v2/team/app/blobs/sha256:{d}") for d in finished} == before
    assert other.system_check().problems == ()


def test_a_partial_blob_is_resumed_with_a_range_request(pushed: tuple[str, str], registry: Registry,
                                                        tmp_path: Path) -> None:
    image_id, name = pushed
    manifest = _get_manifest(registry, "team/app", "1")
    big = max(manifest["layers"], key=lambda layer: layer["size"])
    data = urllib.request.urlopen(f"http://{registry.host}/v2/team/app/blobs/{big['digest']}", timeout=10).read()
    other = fresh_engine(tmp_path, "other")
    downloads = Path(other.root) / "image/overlay2/distribution/downloads"
    downloads.mkdir(parents=True)
    (downloads / (big["digest"][7:] + ".partial")).write_bytes(data[: len(data) // 2])
    events: list[Any] = []
    assert other.image_pull(name, progress=events.append).image_id == image_id
    seen = [e.current for e in events if e.action == "Downloading" and e.id == big["digest"][7:19]]
    assert seen and min(seen) > len(data) // 2


def test_basic_auth_login_push_pull_logout(engine: Any, auth_registry: Registry, tmp_path: Path,
                                           docker_config: Path) -> None:
    engine.image_bootstrap("busybox:latest")
    name = f"{auth_registry.host}/secure/bb:1"
    engine.image_tag("busybox", name)
    with pytest.raises(AuthError, match="berth login"):
        engine.image_push(name)
    with pytest.raises(AuthError, match="login failed"):
        engine.registry_login(auth_registry.host, USER, "wrong")
    assert not docker_config.exists()
    engine.registry_login(auth_registry.host, USER, PASSWORD)
    stored = json.loads(docker_config.read_text())["auths"][auth_registry.host]["auth"]
    assert base64.b64decode(stored).decode() == f"{USER}:{PASSWORD}"
    assert docker_config.stat().st_mode & 0o777 == 0o600
    engine.image_push(name)
    other = fresh_engine(tmp_path, "other")
    assert other.image_pull(name).image_id == engine.image_resolve("busybox")
    assert engine.registry_logout(auth_registry.host) is True
    assert engine.registry_logout(auth_registry.host) is False
    with pytest.raises(AuthError):
        fresh_engine(tmp_path, "third").image_pull(name)


def test_a_layer_berth_did_not_write_pushes_and_pulls_with_the_same_ids(
        engine: Any, registry: Registry, tmp_path: Path, busybox_rootfs: Path, docker_config: Path) -> None:
    import subprocess

    tree = foreign_tree(tmp_path, busybox_rootfs)
    layer = subprocess.run(["tar", "--format=gnu", "-C", str(tree), "-cf", "-", "."], check=True,
                           capture_output=True).stdout
    image_id = layout_of_tar(tmp_path / "foreign.tar", layer, f"{registry.host}/foreign/app:1")
    engine.image_load(str(tmp_path / "foreign.tar"))
    engine.image_push(f"{registry.host}/foreign/app:1", compression="zstd")
    other = fresh_engine(tmp_path, "other")
    assert other.image_pull(f"{registry.host}/foreign/app:1").image_id == image_id


def test_an_image_that_repeats_a_blob_pulls_it_once(engine: Any, registry: Registry, tmp_path: Path,
                                                    busybox_rootfs: Path, docker_config: Path) -> None:
    """Docker images repeat the empty layer's blob; two downloads of it at once would clash."""
    import subprocess

    base = subprocess.run(["tar", "-C", str(busybox_rootfs), "-cf", "-", "."], check=True, capture_output=True).stdout
    empty = b"\0" * 1024
    name = f"{registry.host}/repeat/app:1"
    image_id = layout_of_tar(tmp_path / "repeat.tar", [base, empty, empty], name)
    engine.image_load(str(tmp_path / "repeat.tar"))
    engine.image_push(name)
    other = fresh_engine(tmp_path, "other")
    events: list[Any] = []
    assert other.image_pull(name, progress=events.append).image_id == image_id
    assert _actions(events).count("Pulling fs layer") == 2  # three layers, two distinct blobs
