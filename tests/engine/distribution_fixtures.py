"""Shared pieces of the distribution tests: images worth moving, archive surgery, tool checks."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

DOCKERFILE = """FROM busybox:latest
RUN mkdir -p /data/keep /data/gone && echo one > /data/keep/a && echo two > /data/gone/b && ln -s a /data/keep/link
RUN rm -rf /data/gone /usr/sbin && mkdir /usr/sbin && touch /usr/sbin/new && echo three > /data/keep/c && chmod 0600 /data/keep/c
ENV GREETING=hello
CMD ["sh", "-c", "echo $GREETING"]
"""  # noqa: E501 -- a Dockerfile: each RUN is one layer, kept on one line


def build_multilayer(engine: Any, tmp_path: Path, tag: str = "app:1") -> str:
    """busybox plus two RUN layers, the second deleting files (whiteouts in its tar)."""
    engine.image_bootstrap("busybox:latest")
    context = tmp_path / "ctx"
    context.mkdir(exist_ok=True)
    (context / "Dockerfile").write_text(DOCKERFILE)
    image_id: str = engine.image_build(str(context), tags=[tag])
    return image_id


def saved_blobs(engine: Any, tmp_path: Path) -> tuple[str, bytes, dict[str, bytes]]:
    """app:1 built and saved by berth (an OCI layout): (image ID, manifest bytes, blobs by digest), to serve."""
    image_id = build_multilayer(engine, tmp_path)
    out = tmp_path / "app.tar"
    with open(out, "wb") as f:
        engine.image_save(["app:1"], f)
    blobs: dict[str, bytes] = {}
    with tarfile.open(out) as tar:
        for member in tar.getmembers():
            if member.name.startswith("blobs/sha256/") and member.isreg():
                blobs["sha256:" + member.name.rsplit("/", 1)[1]] = tar.extractfile(member).read()  # type: ignore[union-attr]
        index = json.load(tar.extractfile("index.json"))  # type: ignore[arg-type]
    return image_id, blobs[index["manifests"][0]["digest"]], blobs


def fresh_engine(tmp_path: Path, name: str) -> Any:
    """A second, empty store beside the test's own (to load or pull into)."""
    from engine import Engine

    root = tmp_path / name
    root.mkdir()
    return Engine(str(root))


def need_tool(name: str) -> str:
    """The tool's path; a missing tool skips the test locally and fails it under CI."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (Debian package: {_PACKAGES.get(name, name)})"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI must install it")
        pytest.skip(message)
    return path


_PACKAGES = {"skopeo": "skopeo", "umoci": "umoci", "docker-registry": "docker-registry",
             "htpasswd": "apache2-utils", "zstd": "zstd"}


def read_member(archive: Path, name: str) -> bytes:
    with tarfile.open(archive) as tar:
        f = tar.extractfile(name)
        assert f is not None
        return f.read()


def rewrite_archive(src: Path, dst: Path, change: dict[str, bytes | None]) -> None:
    """Copy a tar, replacing (bytes) or dropping (None) the named members."""
    with tarfile.open(src) as tin, tarfile.open(dst, "w") as tout:
        for member in tin.getmembers():
            if member.name in change:
                data = change[member.name]
                if data is None:
                    continue
                member.size = len(data)
                tout.addfile(member, io.BytesIO(data))
            else:
                tout.addfile(member, tin.extractfile(member) if member.isreg() else None)


def json_member(archive: Path, name: str) -> Any:
    return json.loads(read_member(archive, name))


def sha256_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def write_tar(path: Path, entries: dict[str, bytes]) -> None:
    with tarfile.open(path, "w") as tar:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def foreign_tree(root: Path, busybox_rootfs: Path) -> Path:
    """busybox plus what other tar writers encode differently: long names, long link targets, hard links."""
    tree = root / "tree"
    subprocess.run(["cp", "-a", str(busybox_rootfs), str(tree)], check=True)  # keeps the applets' hard links
    deep = tree / "opt" / ("d" * 60) / ("e" * 60) / ("f" * 60)
    deep.mkdir(parents=True)
    (deep / ("long-file-name-" * 8)).write_bytes(os.urandom(70_000))
    (tree / "opt" / "link").symlink_to("/opt/" + "x" * 150)
    os.link(deep / ("long-file-name-" * 8), tree / "opt" / "hard")
    (tree / "opt" / "empty").write_bytes(b"")
    (tree / "opt" / ".wh.gone").write_bytes(b"")  # a whiteout, as any layer tar may carry
    return tree


def layout_of_tar(path: Path, layer: bytes | list[bytes], ref: str) -> str:
    """An OCI layout tar of uncompressed layer blobs; returns the image ID (the config digest)."""
    layers = layer if isinstance(layer, list) else [layer]
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
                         "rootfs": {"type": "layers", "diff_ids": [sha256_of(b) for b in layers]}}).encode()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": sha256_of(config), "size": len(config)},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha256_of(b),
                                       "size": len(b)} for b in layers]}).encode()
    index = json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha256_of(manifest),
        "size": len(manifest), "annotations": {"org.opencontainers.image.ref.name": ref}}]}).encode()
    write_tar(path, {"oci-layout": b'{"imageLayoutVersion":"1.0.0"}', "index.json": index,
                     **{"blobs/sha256/" + sha256_of(b)[7:]: b for b in (*layers, config, manifest)}})
    return sha256_of(config)
