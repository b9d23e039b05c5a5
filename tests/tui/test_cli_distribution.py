"""``berth save`` / ``berth load`` as a user types them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.engine.registry_fixtures import (
    PASSWORD,
    USER,
    private_docker_config,
    running_registry,
)


def test_save_then_load_prints_the_loaded_tags(berth: Any, engine: Any, tmp_path: Path) -> None:
    image_id = engine.image_bootstrap("busybox:latest")
    out = tmp_path / "bb.tar"
    assert berth("save", "-o", str(out), "busybox")[0] == 0
    assert not (tmp_path / "bb.tar.tmp-berth-save").exists()
    assert berth("rmi", "busybox")[0] == 0
    status, stdout, _ = berth("load", "-i", str(out))
    assert (status, stdout) == (0, "Loaded image: busybox:latest\n")
    assert engine.image_resolve("busybox") == image_id


def test_save_by_id_loads_untagged(berth: Any, engine: Any, tmp_path: Path) -> None:
    image_id = engine.image_bootstrap("busybox:latest")
    out = tmp_path / "bb.tar"
    assert berth("save", "-o", str(out), image_id[7:19])[0] == 0
    status, stdout, _ = berth("load", "-q", "-i", str(out))
    assert (status, stdout) == (0, "")
    status, stdout, _ = berth("load", "-i", str(out))
    assert stdout == f"Loaded image ID: {image_id}\n"


def test_bad_input_is_one_error_line(berth: Any, engine: Any, tmp_path: Path) -> None:
    (tmp_path / "junk.tar").write_bytes(b"junk" * 300)
    status, _, stderr = berth("load", "-i", str(tmp_path / "junk.tar"))
    assert status == 1 and stderr.startswith("Error: ") and stderr.count("\n") == 1
    status, _, stderr = berth("save", "-o", str(tmp_path / "x.tar"), "missing:tag")
    assert status == 1 and stderr == "Error: No such image: missing:tag\n"
    assert not (tmp_path / "x.tar").exists()
    status, _, stderr = berth("load", "-i", str(tmp_path / "nothere.tar"))
    assert status == 1 and "No such file" in stderr


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Any]:
    with running_registry(tmp_path / "registry") as reg:
        yield reg


@pytest.fixture
def auth_registry(tmp_path: Path) -> Iterator[Any]:
    with running_registry(tmp_path / "auth-registry", htpasswd=True) as reg:
        yield reg


@pytest.fixture
def docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return private_docker_config(tmp_path, monkeypatch)


def test_push_and_pull_print_what_docker_prints(berth: Any, engine: Any, registry: Any, docker_config: Path) -> None:
    image_id = engine.image_bootstrap("busybox:latest")
    name = f"{registry.host}/cli/bb"
    assert berth("tag", "busybox", name)[0] == 0
    status, out, err = berth("push", name)
    lines = out.splitlines()
    assert status == 0, err
    assert lines[0] == f"The push refers to repository [{registry.host}/cli/bb]"
    assert lines[1].endswith(": Pushed") and lines[-1].startswith("latest: digest: sha256:")
    digest = lines[-1].split()[2]
    assert berth("rmi", name)[0] == 0
    status, out, err = berth("pull", "-q", name)
    assert (status, out) == (0, f"{registry.host}/cli/bb:latest\n"), err
    assert berth("rmi", name)[0] == 0
    status, out, _ = berth("pull", name)
    assert out.splitlines()[:2] == ["Using default tag: latest", "latest: Pulling from cli/bb"]
    assert f"Digest: {digest}" in out and engine.image_resolve(name) == image_id
    assert f"Status: Downloaded newer image for {name}:latest" in out
    assert f"Status: Image is up to date for {name}:latest" in berth("pull", name)[1]


def test_pull_of_a_missing_tag_is_one_error_line(berth: Any, registry: Any, docker_config: Path) -> None:
    status, _, err = berth("pull", f"{registry.host}/no/such:tag")
    assert status == 1 and err.startswith("Error: manifest for ") and err.count("\n") == 1


def test_login_and_logout(berth: Any, auth_registry: Any, docker_config: Path, monkeypatch: Any) -> None:
    import io
    import sys

    status, out, err = berth("login", "-u", USER, "-p", "nope", auth_registry.host)
    assert status == 1 and "login failed" in err
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(PASSWORD.encode() + b"\n")))
    status, out, _ = berth("login", "-u", USER, "--password-stdin", auth_registry.host)
    assert (status, out) == (0, "Login Succeeded\n")
    assert auth_registry.host in docker_config.read_text()
    assert berth("logout", auth_registry.host)[1] == f"Removing login credentials for {auth_registry.host}\n"
    assert berth("logout", auth_registry.host)[1] == f"Not logged in to {auth_registry.host}\n"
