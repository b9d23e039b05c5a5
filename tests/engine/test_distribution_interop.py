"""save and load against other people's code: skopeo and umoci (Debian packages of the same names)."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from engine.kernel import syscalls

from .distribution_fixtures import build_multilayer, fresh_engine, need_tool
from .private_dockerd import private_dockerd


def _run(*argv: str) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, f"{argv[0]} failed: {done.stderr}"
    return done.stdout


@pytest.fixture
def saved(engine: Any, tmp_path: Path) -> tuple[str, Path]:
    image_id = build_multilayer(engine, tmp_path)
    out = tmp_path / "app.tar"
    with open(out, "wb") as f:
        engine.image_save(["app:1"], f)
    return image_id, out


def test_skopeo_copies_the_docker_archive_and_berth_loads_it_back(engine: Any, saved: tuple[str, Path],
                                                                   tmp_path: Path) -> None:
    skopeo = need_tool("skopeo")
    image_id, out = saved
    copy = tmp_path / "skopeo.tar"
    _run(skopeo, "copy", "-q", f"docker-archive:{out}", f"docker-archive:{copy}:example.org/copied:2")
    other = fresh_engine(tmp_path, "other")
    assert [(i.id, i.refs) for i in other.image_load(str(copy))] == [(image_id, ("example.org/copied:2",))]
    assert other.system_check().problems == ()


def test_skopeo_oci_dir_from_the_oci_side_keeps_the_image_id(engine: Any, saved: tuple[str, Path],
                                                             tmp_path: Path) -> None:
    skopeo = need_tool("skopeo")
    image_id, out = saved
    _run(skopeo, "copy", "-q", f"oci-archive:{out}:1", f"oci:{tmp_path / 'dir'}:copied")
    other = fresh_engine(tmp_path, "other")
    assert [(i.id, i.refs) for i in other.image_load(str(tmp_path / "dir"))] == [(image_id, ())]


def test_skopeo_converts_docker_archive_to_oci_dir_and_berth_loads_the_same_image(
        engine: Any, saved: tuple[str, Path], tmp_path: Path) -> None:
    """skopeo decodes the config into image-spec's Go struct and encodes it again when it turns
    the schema2 image into OCI; berth writes configs in that very form, so the ID survives."""
    skopeo = need_tool("skopeo")
    image_id, out = saved
    _run(skopeo, "copy", "-q", f"docker-archive:{out}", f"oci:{tmp_path / 'dir'}:latest")
    index = json.loads((tmp_path / "dir" / "index.json").read_bytes())
    manifest = json.loads((tmp_path / "dir" / "blobs" / "sha256" / index["manifests"][0]["digest"][7:]).read_bytes())
    assert manifest["config"]["digest"] == image_id  # skopeo's own bytes hash to berth's ID
    other = fresh_engine(tmp_path, "other")
    assert [(i.id, i.refs) for i in other.image_load(str(tmp_path / "dir"))] == [(image_id, ())]
    assert [x.chain_id for x in other.store.images.image_layers(image_id)] == \
        [x.chain_id for x in engine.store.images.image_layers(image_id)]
    assert other.system_check().problems == ()


def test_berth_loads_gzip_layers_skopeo_wrote(engine: Any, saved: tuple[str, Path], tmp_path: Path) -> None:
    skopeo = need_tool("skopeo")
    image_id, out = saved
    _run(skopeo, "copy", "-q", "--dest-compress", "--dest-compress-format", "gzip",
         f"oci-archive:{out}:1", f"oci-archive:{tmp_path / 'gz.tar'}:example.org/gz:3")
    index = json.loads(_run("tar", "-xOf", str(tmp_path / "gz.tar"), "index.json"))
    manifest = json.loads(_run("tar", "-xOf", str(tmp_path / "gz.tar"),
                               "blobs/sha256/" + index["manifests"][0]["digest"][7:]))
    assert {layer["mediaType"] for layer in manifest["layers"]} == {"application/vnd.oci.image.layer.v1.tar+gzip"}
    other = fresh_engine(tmp_path, "other")
    assert [(i.id, i.refs) for i in other.image_load(str(tmp_path / "gz.tar"))] == [(image_id, ("example.org/gz:3",))]


def _tree(root: Path) -> dict[str, tuple[Any, ...]]:
    """Everything a container would see: type, mode, owner, content hash or link target."""
    out: dict[str, tuple[Any, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            if stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    what: Any = hashlib.sha256(f.read()).hexdigest()
            elif stat.S_ISLNK(st.st_mode):
                what = os.readlink(path)
            else:
                what = ""
            out[os.path.relpath(path, root)] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid,
                                                what)
    return out


def test_umoci_unpacks_the_same_tree_an_overlay_of_the_layers_shows(engine: Any, saved: tuple[str, Path],
                                                                      tmp_path: Path) -> None:
    umoci = need_tool("umoci")
    image_id, out = saved
    layout = tmp_path / "layout"
    layout.mkdir()
    _run("tar", "-C", str(layout), "-xf", str(out))
    _run(umoci, "unpack", "--image", f"{layout}:1", str(tmp_path / "bundle"))
    lowers = [engine.paths.diff_dir(x.cache_id) for x in reversed(engine.store.images.image_layers(image_id))]
    merged = tmp_path / "merged"
    merged.mkdir()
    syscalls.mount("overlay", str(merged), "overlay", syscalls.MS_RDONLY, "lowerdir=" + ":".join(lowers))
    try:
        want = _tree(merged)
    finally:
        syscalls.umount2(str(merged), 0)
    got = _tree(tmp_path / "bundle" / "rootfs")
    assert "data/gone" not in got and "usr/sbin/new" in got and "usr/sbin/ifconfig" not in got
    assert got == want


def test_docker_loads_berths_save_and_berth_loads_dockers(engine: Any, saved: tuple[str, Path], tmp_path: Path) -> None:
    """Only where Docker is installed (issue 7 asks for it where available): a daemon of the test's own."""
    with private_dockerd() as docker:
        if docker is None:
            pytest.skip("Docker (dockerd and the docker CLI, Debian's docker.io) is not installed here")
        image_id, out = saved
        _run(*docker, "load", "-i", str(out))
        assert image_id.split(":")[1] in subprocess.run([*docker, "images", "-q", "--no-trunc", "app:1"],
                                                         capture_output=True, text=True, check=True).stdout
        _run(*docker, "save", "-o", str(tmp_path / "docker.tar"), "app:1")
    other = fresh_engine(tmp_path, "other")
    assert [(i.id, i.refs) for i in other.image_load(str(tmp_path / "docker.tar"))] == [(image_id, ("app:1",))]
