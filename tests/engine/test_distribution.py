"""save and load: the archive is both an OCI layout and a docker-archive; load checks every digest."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from engine.errors import ArchiveError, DigestMismatch, ImageNotFound, PlatformNotFound

from .distribution_fixtures import (
    build_multilayer,
    foreign_tree,
    fresh_engine,
    json_member,
    layout_of_tar,
    read_member,
    rewrite_archive,
)


def _save(engine: Any, names: list[str], path: Path) -> Path:
    with open(path, "wb") as f:
        engine.image_save(names, f)
    return path


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _assert_clean(engine: Any) -> None:
    assert engine.system_check().problems == ()


@pytest.fixture
def app(engine: Any, tmp_path: Path) -> str:
    return build_multilayer(engine, tmp_path)


def test_save_is_an_oci_layout_and_a_docker_archive(engine: Any, app: str, tmp_path: Path) -> None:
    out = _save(engine, ["app:1"], tmp_path / "app.tar")
    with tarfile.open(out) as tar:
        names = set(tar.getnames())
        for name in names:
            if name.startswith("blobs/sha256/"):
                assert _sha(tar.extractfile(name).read()) == "sha256:" + name.rsplit("/", 1)[1]  # type: ignore[union-attr]
    assert {"oci-layout", "index.json", "manifest.json", "repositories"} <= names
    assert json_member(out, "oci-layout") == {"imageLayoutVersion": "1.0.0"}
    (entry,) = json_member(out, "manifest.json")
    assert entry["Config"] == "blobs/sha256/" + app[7:] and entry["RepoTags"] == ["app:1"]
    config = json.loads(read_member(out, entry["Config"]))
    assert ["sha256:" + p.rsplit("/", 1)[1] for p in entry["Layers"]] == config["rootfs"]["diff_ids"]
    assert len(entry["Layers"]) == 3
    (desc,) = json_member(out, "index.json")["manifests"]
    assert desc["annotations"] == {"io.containerd.image.name": "docker.io/library/app:1",
                                   "org.opencontainers.image.ref.name": "1"}
    manifest = json.loads(read_member(out, "blobs/sha256/" + desc["digest"][7:]))
    assert manifest["config"]["digest"] == app
    assert [layer["digest"] for layer in manifest["layers"]] == config["rootfs"]["diff_ids"]
    assert json_member(out, "repositories") == {"app": {"1": entry["Layers"][-1].rsplit("/", 1)[1]}}


def test_save_load_round_trip_keeps_id_tags_layers_and_history(engine: Any, app: str, tmp_path: Path) -> None:
    out = _save(engine, ["app:1", "busybox"], tmp_path / "two.tar")
    other = fresh_engine(tmp_path, "other")
    loaded = other.image_load(str(out))
    assert {(i.id, i.refs) for i in loaded} == {(app, ("app:1",)),
                                                (engine.image_resolve("busybox"), ("busybox:latest",))}
    assert other.image_resolve("app:1") == app
    assert [h.created_by for h in other.image_history("app:1")] == [h.created_by for h in engine.image_history("app:1")]
    assert [layer.chain_id for layer in other.store.images.image_layers(app)] == \
        [layer.chain_id for layer in engine.store.images.image_layers(app)]
    again = _save(other, ["app:1"], tmp_path / "again.tar").read_bytes()
    assert again == _save(engine, ["app:1"], tmp_path / "once.tar").read_bytes()
    _assert_clean(other)


def test_load_again_finds_every_layer_present(engine: Any, app: str, tmp_path: Path) -> None:
    out = _save(engine, ["app:1"], tmp_path / "app.tar")
    seen: list[Any] = []
    assert engine.image_load(str(out), progress=seen.append)[0].id == app
    assert {p.action for p in seen} == {"Already exists"}


def test_shared_layers_are_written_once_and_ids_save_untagged(engine: Any, app: str, tmp_path: Path) -> None:
    out = _save(engine, ["app:1", "busybox:latest", app[7:19]], tmp_path / "shared.tar")
    with tarfile.open(out) as tar:
        blobs = [n for n in tar.getnames() if n.startswith("blobs/sha256/")]
    assert len(blobs) == len(set(blobs)) == 3 + 2 + 2  # layers, configs, manifests
    entries = json_member(out, "manifest.json")
    assert sorted(tuple(e["RepoTags"] or ()) for e in entries) == [("app:1",), ("busybox:latest",)]


def test_save_to_a_pipe(engine: Any, app: str, tmp_path: Path) -> None:
    read_fd, write_fd = os.pipe()
    with open(tmp_path / "piped.tar", "wb") as sink:
        cat = subprocess.Popen(["cat"], stdin=read_fd, stdout=sink)
        os.close(read_fd)
        with os.fdopen(write_fd, "wb") as pipe:
            engine.image_save(["app:1"], pipe)
        assert cat.wait() == 0
    assert (tmp_path / "piped.tar").read_bytes() == _save(engine, ["app:1"], tmp_path / "file.tar").read_bytes()


def test_save_of_a_missing_image_writes_nothing(engine: Any, tmp_path: Path) -> None:
    buf = io.BytesIO()
    with pytest.raises(ImageNotFound):
        engine.image_save(["nope:1"], buf)
    assert buf.getvalue() == b""


def test_load_an_oci_layout_dir_without_manifest_json(engine: Any, app: str, tmp_path: Path) -> None:
    out = _save(engine, ["app:1"], tmp_path / "app.tar")
    layout = tmp_path / "layout"
    layout.mkdir()
    subprocess.run(["tar", "-C", str(layout), "-xf", str(out)], check=True)
    (layout / "manifest.json").unlink()
    other = fresh_engine(tmp_path, "other")
    assert [(i.id, i.refs) for i in other.image_load(str(layout))] == [(app, ("app:1",))]


def test_a_layout_dir_symlink_out_of_the_layout_is_refused(engine: Any, app: str, tmp_path: Path) -> None:
    out = _save(engine, ["app:1"], tmp_path / "app.tar")
    layout = tmp_path / "layout"
    layout.mkdir()
    subprocess.run(["tar", "-C", str(layout), "-xf", str(out)], check=True)
    (layout / "oci-layout").unlink()
    (layout / "manifest.json").unlink()
    (layout / "index.json").rename(tmp_path / "index.json")
    (layout / "index.json").symlink_to(tmp_path / "index.json")
    with pytest.raises(ArchiveError, match="outside the layout"):
        fresh_engine(tmp_path, "other").image_load(str(layout))


def test_load_gzip_of_an_archive_and_from_stdin(engine: Any, app: str, tmp_path: Path) -> None:
    out = _save(engine, ["app:1"], tmp_path / "app.tar")
    other = fresh_engine(tmp_path, "other")
    with open(out, "rb") as plain:
        stream = io.BytesIO(gzip.compress(plain.read(), compresslevel=1))
    assert other.image_load(None, stream)[0].id == app


def _legacy_archive(engine: Any, image_id: str, path: Path) -> Path:
    """What ``docker save`` wrote before 25.0: <id>.json, <v1id>/layer.tar, VERSION, json, repositories."""
    config = engine.store.imagedb.get(image_id)
    entries: dict[str, bytes] = {image_id[7:] + ".json": config}
    layers = []
    for i, layer in enumerate(engine.store.images.image_layers(image_id)):
        buf = io.BytesIO()
        from engine.archive import write_layer

        write_layer(engine.paths.diff_dir(layer.cache_id), buf, upper=True)
        v1 = hashlib.sha256(f"v1-{i}-{layer.chain_id}".encode()).hexdigest()
        entries.update({f"{v1}/layer.tar": buf.getvalue(), f"{v1}/VERSION": b"1.0", f"{v1}/json": b"{}"})
        layers.append(f"{v1}/layer.tar")
    entries["manifest.json"] = json.dumps([{"Config": image_id[7:] + ".json", "RepoTags": ["old:form"],
                                            "Layers": layers}]).encode()
    entries["repositories"] = json.dumps({"old": {"form": layers[-1].split("/")[0]}}).encode()
    _write_tar(path, entries)
    return path


def _write_tar(path: Path, entries: dict[str, bytes]) -> None:
    with tarfile.open(path, "w") as tar:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_legacy_form_with_a_shared_layer_as_a_symlink(engine: Any, app: str, tmp_path: Path) -> None:
    """Old ``docker save`` wrote a layer two images share once, and a symlink in the second image's dir."""
    legacy = _legacy_archive(engine, app, tmp_path / "legacy.tar")
    base_id = engine.image_resolve("busybox")
    (entry,) = json_member(legacy, "manifest.json")
    with tarfile.open(legacy) as tin, tarfile.open(tmp_path / "linked.tar", "w") as tout:
        for member in tin.getmembers():
            if member.name != "manifest.json":
                tout.addfile(member, tin.extractfile(member) if member.isreg() else None)
        link = tarfile.TarInfo("f" * 64 + "/layer.tar")
        link.type, link.linkname = tarfile.SYMTYPE, "../" + entry["Layers"][0]
        tout.addfile(link)
        config = engine.store.imagedb.get(base_id)
        info = tarfile.TarInfo(base_id[7:] + ".json")
        info.size = len(config)
        tout.addfile(info, io.BytesIO(config))
        manifest = [entry, {"Config": base_id[7:] + ".json", "RepoTags": ["base:old"], "Layers": [link.name]}]
        data = json.dumps(manifest).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(data)
        tout.addfile(info, io.BytesIO(data))
    other = fresh_engine(tmp_path, "other")
    assert {(i.id, i.refs) for i in other.image_load(str(tmp_path / "linked.tar"))} == \
        {(app, ("old:form",)), (base_id, ("base:old",))}


def test_load_the_pre_2023_docker_save_form(engine: Any, app: str, tmp_path: Path) -> None:
    legacy = _legacy_archive(engine, app, tmp_path / "legacy.tar")
    other = fresh_engine(tmp_path, "other")
    assert [(i.id, i.refs) for i in other.image_load(str(legacy))] == [(app, ("old:form",))]
    _assert_clean(other)


def _compressed_layout(engine: Any, image_id: str, path: Path, kind: str) -> Path:
    """An OCI layout tar whose layers are gzip or zstd blobs, described as such."""
    import zstandard

    from engine.archive import write_layer

    entries: dict[str, bytes] = {"oci-layout": b'{"imageLayoutVersion":"1.0.0"}'}
    config = engine.store.imagedb.get(image_id)
    layers = []
    for layer in engine.store.images.image_layers(image_id):
        buf = io.BytesIO()
        write_layer(engine.paths.diff_dir(layer.cache_id), buf, upper=True)
        blob = gzip.compress(buf.getvalue()) if kind == "gzip" else zstandard.ZstdCompressor().compress(buf.getvalue())
        entries["blobs/sha256/" + _sha(blob)[7:]] = blob
        layers.append({"mediaType": f"application/vnd.oci.image.layer.v1.tar+{kind}", "digest": _sha(blob),
                       "size": len(blob)})
    entries["blobs/sha256/" + image_id[7:]] = config
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": image_id,
                                      "size": len(config)}, "layers": layers}).encode()
    entries["blobs/sha256/" + _sha(manifest)[7:]] = manifest
    entries["index.json"] = json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": _sha(manifest), "size": len(manifest),
         "annotations": {"org.opencontainers.image.ref.name": "example.com/comp/" + kind + ":v1"}}]}).encode()
    _write_tar(path, entries)
    return path


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
def test_load_compressed_layers(engine: Any, app: str, tmp_path: Path, kind: str) -> None:
    layout = _compressed_layout(engine, app, tmp_path / f"{kind}.tar", kind)
    other = fresh_engine(tmp_path, "other")
    assert [(i.id, i.refs) for i in other.image_load(str(layout))] == [(app, (f"example.com/comp/{kind}:v1",))]


def _corrupt_layer(src: Path, dst: Path) -> None:
    (entry,) = json_member(src, "manifest.json")
    name = entry["Layers"][-1]
    data = bytearray(read_member(src, name))
    data[600] ^= 0xFF
    rewrite_archive(src, dst, {name: bytes(data)})


def test_a_corrupt_layer_is_a_digest_mismatch_and_nothing_is_stored(engine: Any, app: str, tmp_path: Path) -> None:
    out = _save(engine, ["app:1"], tmp_path / "app.tar")
    _corrupt_layer(out, tmp_path / "bad.tar")
    other = fresh_engine(tmp_path, "other")
    with pytest.raises(DigestMismatch, match="digest mismatch"):
        other.image_load(str(tmp_path / "bad.tar"))
    assert other.image_list() == []
    assert len(other.store.layers.list()) == 2  # the good lower layers stay, as Docker keeps them
    assert not list((Path(other.root) / "image/overlay2/distribution/tar-split").glob(".tmp-*"))
    _assert_clean(other)


def test_a_tampered_config_is_refused(engine: Any, app: str, tmp_path: Path) -> None:
    out = _save(engine, ["app:1"], tmp_path / "app.tar")
    config = read_member(out, "blobs/sha256/" + app[7:]).replace(b"GREETING=hello", b"GREETING=HELLO")
    rewrite_archive(out, tmp_path / "bad.tar", {"blobs/sha256/" + app[7:]: config})
    other = fresh_engine(tmp_path, "other")
    with pytest.raises(DigestMismatch):
        other.image_load(str(tmp_path / "bad.tar"))
    assert other.image_list() == []


def test_truncated_and_non_archives_are_clear_errors(engine: Any, app: str, tmp_path: Path) -> None:
    out = _save(engine, ["app:1"], tmp_path / "app.tar")
    data = out.read_bytes()
    (tmp_path / "cut.tar").write_bytes(data[: len(data) // 2])
    (tmp_path / "junk.tar").write_bytes(b"not a tar at all" * 100)
    other = fresh_engine(tmp_path, "other")
    for name in ("cut.tar", "junk.tar"):
        with pytest.raises(ArchiveError):
            other.image_load(str(tmp_path / name))
    assert other.image_list() == []
    _assert_clean(other)


def _index_of(engine: Any, app: str, tmp_path: Path, platforms: list[tuple[str, str]]) -> Path:
    """The save with index.json replaced by a nested multi-platform index, all entries the same image."""
    out = _save(engine, ["app:1"], tmp_path / "app.tar")
    (desc,) = json_member(out, "index.json")["manifests"]
    desc.pop("annotations")
    inner = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
        {**desc, "platform": {"os": os_, "architecture": arch}} for os_, arch in platforms]}).encode()
    index = {"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.index.v1+json",
                                                "digest": _sha(inner), "size": len(inner),
                                                "annotations": {
                                                    "io.containerd.image.name": "docker.io/library/multi:1"}}]}
    layout = tmp_path / "multi"
    layout.mkdir()
    subprocess.run(["tar", "-C", str(layout), "-xf", str(out)], check=True)
    (layout / "manifest.json").unlink()
    (layout / "blobs/sha256" / _sha(inner)[7:]).write_bytes(inner)
    (layout / "index.json").write_text(json.dumps(index))
    return layout


def test_platform_selection_from_a_nested_index(engine: Any, app: str, tmp_path: Path) -> None:
    layout = _index_of(engine, app, tmp_path, [("linux", "arm64"), ("linux", "s390x")])
    other = fresh_engine(tmp_path, "other")
    with pytest.raises(PlatformNotFound, match="linux/arm64, linux/s390x"):
        other.image_load(str(layout), platform="linux/amd64")
    assert other.image_list() == []
    assert other.image_load(str(layout), platform="linux/s390x")[0].refs == ("multi:1",)


@pytest.mark.parametrize("tar_format", ["gnu", "posix", "oldgnu"])
def test_layers_written_by_gnu_tar_save_byte_for_byte(engine: Any, tmp_path: Path, busybox_rootfs: Path,
                                                      tar_format: str) -> None:
    """A layer berth did not write is rebuilt from its recorded split, so the diffID and image ID hold."""
    tree = foreign_tree(tmp_path, busybox_rootfs)
    layer = subprocess.run(["tar", f"--format={tar_format}", "-C", str(tree), "-cf", "-", "."],
                           check=True, capture_output=True).stdout
    image_id = layout_of_tar(tmp_path / "foreign.tar", layer, "example.com/foreign:1")
    assert engine.image_load(str(tmp_path / "foreign.tar"))[0].id == image_id
    out = _save(engine, ["example.com/foreign:1"], tmp_path / "again.tar")
    assert read_member(out, "blobs/sha256/" + _sha(layer)[7:]) == layer
    other = fresh_engine(tmp_path, "other")
    assert other.image_load(str(out))[0].id == image_id
    _assert_clean(other)


def test_a_changed_layer_file_makes_save_fail_clearly(engine: Any, tmp_path: Path, busybox_rootfs: Path) -> None:
    tree = foreign_tree(tmp_path, busybox_rootfs)
    layer = subprocess.run(["tar", "-C", str(tree), "-cf", "-", "."], check=True, capture_output=True).stdout
    layout_of_tar(tmp_path / "foreign.tar", layer, "example.com/foreign:1")
    engine.image_load(str(tmp_path / "foreign.tar"))
    (top,) = engine.store.images.image_layers(engine.image_resolve("example.com/foreign:1"))
    with open(Path(engine.paths.diff_dir(top.cache_id)) / "opt" / "hard", "r+b") as f:
        f.write(b"changed")
    from engine.errors import StoreCorrupt

    with pytest.raises(StoreCorrupt, match="cannot be rebuilt byte for byte"):
        engine.image_save(["example.com/foreign:1"], io.BytesIO())
