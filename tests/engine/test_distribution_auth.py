"""Token auth, registry failures and dropped connections, against a fake registry on 127.0.0.1;
and Docker Hub name handling, which never touches the network."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.errors import AuthError, DigestMismatch, RegistryError

from .distribution_fixtures import fresh_engine, saved_blobs
from .fake_registry import FakeState, fake_registry

pytest_plugins = ["tests.engine.registry_plugin"]  # docker_config


@pytest.fixture
def served(engine: Any, tmp_path: Path, docker_config: Path) -> Iterator[tuple[str, FakeState]]:
    """app:1 served by the fake as team/app:1 (blobs from berth's own save: an OCI layout)."""
    image_id, manifest, blobs = saved_blobs(engine, tmp_path)
    with fake_registry(FakeState("team/app", manifest, blobs)) as state:
        yield image_id, state


def _biggest_layer(state: FakeState) -> str:
    layers = json.loads(state.manifest)["layers"]
    return str(max(layers, key=lambda layer: layer["size"])["digest"])


def test_anonymous_token_flow(served: tuple[str, FakeState], tmp_path: Path) -> None:
    image_id, state = served
    other = fresh_engine(tmp_path, "other")
    assert other.image_pull(f"{state.host}/team/app:1").image_id == image_id
    assert state.token_requests[0] == {"scope": ["repository:team/app:pull"], "service": ["fake"], "auth": ""}


def test_token_flow_with_stored_credentials(served: tuple[str, FakeState], tmp_path: Path, docker_config: Path) -> None:
    image_id, state = served
    state.token_user = ("me", "pw")
    other = fresh_engine(tmp_path, "other")
    with pytest.raises(AuthError, match="refused anonymous access"):
        other.image_pull(f"{state.host}/team/app:1")
    other.registry_login(state.host, "me", "pw")
    assert other.image_pull(f"{state.host}/team/app:1").image_id == image_id
    assert state.token_requests[-1]["auth"].startswith("Basic ")
    with pytest.raises(AuthError):
        other.registry_login(state.host, "me", "wrong")


def test_a_500_is_one_clear_error(served: tuple[str, FakeState], tmp_path: Path) -> None:
    _, state = served
    state.manifest_status = 500
    other = fresh_engine(tmp_path, "other")
    with pytest.raises(RegistryError, match="storage backend on fire"):
        other.image_pull(f"{state.host}/team/app:1")
    assert other.image_list() == [] and other.system_check().problems == ()


def test_a_dropped_connection_keeps_the_partial_blob_and_the_next_pull_resumes(served: tuple[str, FakeState],
                                                                               tmp_path: Path) -> None:
    image_id, state = served
    state.drop_blob = _biggest_layer(state)
    other = fresh_engine(tmp_path, "other")
    with pytest.raises(RegistryError, match="connection dropped"):
        other.image_pull(f"{state.host}/team/app:1")
    partial = Path(other.root) / "image/overlay2/distribution/downloads" / (state.drop_blob[7:] + ".partial")
    assert partial.stat().st_size == len(state.blobs[state.drop_blob]) // 2
    assert other.image_list() == []
    state.drop_blob = ""
    assert other.image_pull(f"{state.host}/team/app:1").image_id == image_id
    assert state.ranges == [f"bytes={len(state.blobs[_biggest_layer(state)]) // 2}-"]
    assert other.system_check().problems == ()


def test_a_corrupt_blob_is_a_digest_mismatch(served: tuple[str, FakeState], tmp_path: Path) -> None:
    _, state = served
    state.corrupt_blob = _biggest_layer(state)
    other = fresh_engine(tmp_path, "other")
    with pytest.raises(DigestMismatch):
        other.image_pull(f"{state.host}/team/app:1")
    downloads = Path(other.root) / "image/overlay2/distribution/downloads"
    assert not list(downloads.glob(state.corrupt_blob[7:] + "*"))
    assert other.image_list() == []


def test_docker_hub_names_normalise_without_any_network() -> None:
    from engine import reference
    from engine.distribution.credentials import auth_key, registry_domain
    from engine.distribution.registry import endpoint_host, is_loopback

    ref = reference.parse("ubuntu")
    assert (ref.domain, ref.path, ref.tag) == ("docker.io", "library/ubuntu", "latest")
    assert endpoint_host(ref.domain) == "registry-1.docker.io"
    assert auth_key("docker.io") == "https://index.docker.io/v1/"
    assert registry_domain("https://index.docker.io/v1/") == registry_domain("docker.io") == "docker.io"
    assert is_loopback("127.0.0.1:5000") and is_loopback("localhost:5000") and not is_loopback("example.com")


def test_nobody_listening_is_one_clear_error(tmp_path: Path, docker_config: Path) -> None:
    from .registry_fixtures import free_port

    other = fresh_engine(tmp_path, "other")
    with pytest.raises(RegistryError, match="Connection refused"):
        other.image_pull(f"127.0.0.1:{free_port()}/team/app:1")
