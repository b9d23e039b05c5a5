"""The registry fixtures as a pytest plugin: a test module names it in ``pytest_plugins``.

(A plugin module of its own, so that test modules can import the helpers in
``registry_fixtures`` without pytest warning that it cannot rewrite its asserts.)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .registry_fixtures import Registry, private_docker_config, running_registry


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    """An open registry (no auth) for the test."""
    with running_registry(tmp_path / "registry") as reg:
        yield reg


@pytest.fixture
def auth_registry(tmp_path: Path) -> Iterator[Registry]:
    """A registry asking for USER/PASSWORD through htpasswd basic auth."""
    with running_registry(tmp_path / "auth-registry", htpasswd=True) as reg:
        yield reg


@pytest.fixture
def docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test's own config.json path (nothing stored yet)."""
    return private_docker_config(tmp_path, monkeypatch)
