"""Insecure registries: loopback always, others only when listed in the store's daemon.json (or with --insecure).

The registry that is not on loopback runs in a network namespace this test makes (198.18.<n>.2, over a veth
pair); nothing else is contacted.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.distribution.insecure import InsecureRegistries
from engine.errors import InvalidArgument, RegistryError

from .distribution_fixtures import fresh_engine
from .registry_fixtures import Registry, make_certificates, registry_off_loopback

pytest_plugins = ["tests.engine.registry_plugin"]  # docker_config


@pytest.fixture
def remote(tmp_path: Path) -> Iterator[Registry]:
    with registry_off_loopback(tmp_path / "remote", 64 + os.getpid() % 64) as reg:
        yield reg


def _listing(engine: Any, entries: list[str]) -> None:
    Path(engine.paths.root, "daemon.json").write_text(json.dumps({"insecure-registries": entries}))


def test_docker_rules_without_the_network() -> None:
    default = InsecureRegistries()
    for domain in ("localhost:5000", "127.0.0.1:5000", "127.3.2.1", "[::1]:5000", "localhost"):
        assert default.allows(domain), domain
    assert not default.allows("docker.io") and not default.allows("10.1.2.3:5000")
    listed = InsecureRegistries.parse(["10.0.0.0/8", "Reg.Example:5000", "fd00::/64"])
    assert listed.allows("10.9.8.7:443") and listed.allows("reg.example:5000") and listed.allows("[fd00::5]:80")
    assert not listed.allows("reg.example:5001") and not listed.allows("11.0.0.1")
    with pytest.raises(InvalidArgument, match="should not contain '://'"):
        InsecureRegistries.parse(["http://reg.example"])
    with pytest.raises(InvalidArgument, match="must be a list"):
        InsecureRegistries.parse("reg.example")


def test_a_plain_http_registry_off_loopback_needs_listing(engine: Any, remote: Registry, tmp_path: Path,
                                                          docker_config: Path) -> None:
    image_id = engine.image_bootstrap("busybox:latest")
    name = f"{remote.host}/team/bb:1"
    engine.image_tag("busybox:latest", name)
    with pytest.raises(RegistryError, match="HTTP response to an HTTPS request.*add '198.18.*daemon.json"):
        engine.image_push(name)
    assert remote.requests("PUT ") == 0
    engine.image_push(name, insecure=True)  # the flag, as before

    other = fresh_engine(tmp_path, "other")
    with pytest.raises(RegistryError, match="insecure-registries"):
        other.image_pull(name)
    _listing(other, [remote.host.replace(":5000", ":5001")])  # another port is another registry
    with pytest.raises(RegistryError, match="insecure-registries"):
        other.image_pull(name)
    _listing(other, [remote.host])
    assert other.image_pull(name).image_id == image_id
    other.image_remove(name)
    _listing(other, [remote.host.rsplit(".", 1)[0] + ".0/30"])  # a CIDR
    assert other.image_pull(name).image_id == image_id
    assert other.system_check().problems == ()


def test_a_broken_daemon_json_is_one_clear_error(engine: Any, tmp_path: Path) -> None:
    Path(engine.paths.root, "daemon.json").write_text("{not json")
    with pytest.raises(InvalidArgument, match="daemon.json"):
        engine.image_pull("127.0.0.1:9/x:1")
    _listing(engine, ["https://reg.example"])
    with pytest.raises(InvalidArgument, match="should not contain"):
        engine.image_pull("127.0.0.1:9/x:1")


def test_https_is_verified_against_the_system_ca_store(engine: Any, tmp_path: Path, docker_config: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A TLS registry off loopback: refused while its CA is unknown, taken once the CA store (OpenSSL's
    SSL_CERT_FILE, which the system store is read through) holds it, and taken unverified with --insecure."""
    subnet = 64 + (os.getpid() + 32) % 64
    ca, cert, key = make_certificates(tmp_path / "pki", f"198.18.{subnet}.2")
    with registry_off_loopback(tmp_path / "tls", subnet, tls=(cert, key)) as reg:
        engine.image_bootstrap("busybox:latest")
        name = f"{reg.host}/tls/bb:1"
        engine.image_tag("busybox:latest", name)
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "no-such-bundle.pem"))
        with pytest.raises(RegistryError, match="CERTIFICATE_VERIFY_FAILED"):
            engine.image_push(name)
        engine.image_push(name, insecure=True)
        monkeypatch.setenv("SSL_CERT_FILE", str(ca))
        other = fresh_engine(tmp_path, "other")
        assert other.image_pull(name).image_id == engine.image_resolve(name)
