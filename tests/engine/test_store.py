"""The store's on-disk layout, identities and overlay mounts, checked on real files."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

from engine.store.layers import chain_id_for
from engine.store.paths import LINK_ID_LENGTH
from engine.store.rwlayers import RWLayerStore
from tests.conftest import mounts_under


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _tar(files: dict[str, bytes], whiteouts: tuple[str, ...] = ()) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1_600_000_000
            tf.addfile(info, io.BytesIO(data))
        for name in whiteouts:
            head, _, tail = name.rpartition("/")
            info = tarfile.TarInfo(f"{head}/.wh.{tail}" if head else f".wh.{tail}")
            tf.addfile(info, io.BytesIO(b""))
    return buf.getvalue()


def test_import_lays_out_overlay2_and_layerdb(engine, busybox_tar: Path, store_root: Path) -> None:
    data = busybox_tar.read_bytes()
    with open(busybox_tar, "rb") as f:
        image_id = engine.image_import(f, source_name=str(busybox_tar), ref="bb:1")
    diff_id = _sha(data)
    record = store_root / "image/overlay2/layerdb/sha256" / diff_id[7:]
    assert (record / "diff").read_text() == diff_id
    assert not (record / "parent").exists()
    cache_id = (record / "cache-id").read_text()
    layer = store_root / "overlay2" / cache_id
    assert (layer / "diff/bin/busybox").is_file()
    assert (layer / "committed").exists() and (layer / "work").is_dir()
    link = (layer / "link").read_text()
    assert len(link) == LINK_ID_LENGTH
    assert os.readlink(store_root / "overlay2/l" / link) == f"../{cache_id}/diff"
    # busybox's applets are hard links: counted once, as Docker counts them.
    assert int((record / "size").read_text()) < 2 * os.path.getsize("/bin/busybox")
    config = (store_root / "image/overlay2/imagedb/content/sha256" / image_id[7:]).read_bytes()
    assert _sha(config) == image_id
    parsed = json.loads(config)
    assert parsed["rootfs"] == {"type": "layers", "diff_ids": [diff_id]}
    assert parsed["os"] == "linux" and parsed["history"][0]["comment"].startswith("Imported from")
    repos = json.loads((store_root / "image/overlay2/repositories.json").read_text())
    assert repos == {"Repositories": {"bb": {"bb:1": image_id}}}


def test_compressed_and_plain_tar_share_one_layer(engine, busybox_tar: Path, store_root: Path, tmp_path: Path) -> None:
    gz = tmp_path / "rootfs.tar.bin"  # a misleading name: detection is by content
    gz.write_bytes(gzip.compress(busybox_tar.read_bytes()))
    with open(busybox_tar, "rb") as f:
        a = engine.image_import(f, source_name="plain", ref="a")
    with open(gz, "rb") as f:
        b = engine.image_import(f, source_name="gz", ref="b")
    assert engine.store.images.config(a)["rootfs"] == engine.store.images.config(b)["rootfs"]
    assert len(os.listdir(store_root / "image/overlay2/layerdb/sha256")) == 1
    assert len([d for d in os.listdir(store_root / "overlay2") if d != "l"]) == 1


def test_chain_ids_follow_the_oci_rule(engine) -> None:
    parent = None
    for i in range(3):
        data = _tar({f"f{i}": b"x" * i})
        layer = engine.store.layers.register(io.BytesIO(data), parent, archive_name=f"t{i}")
        assert layer.diff_id == _sha(data)
        expected = _sha(data) if parent is None else _sha(f"{parent} {_sha(data)}".encode())
        assert layer.chain_id == expected == chain_id_for(parent, layer.diff_id)
        assert layer.parent == parent
        parent = layer.chain_id
    assert [x.diff_id for x in engine.store.layers.chain(parent)][0] == _sha(_tar({"f0": b""}))


def test_120_layer_chain_mounts_through_short_links(engine, store_root: Path) -> None:
    parent = None
    for i in range(120):
        files = {f"layer-{i:03d}": f"{i}\n".encode(), "top": f"{i}\n".encode()}
        whiteouts = ("layer-005",) if i == 100 else ()
        parent = engine.store.layers.register(io.BytesIO(_tar(files, whiteouts)), parent, archive_name=f"l{i}").chain_id
    lowers = engine.store.layers.lower_dirs(parent)
    assert len(lowers) == 120 and all(p.startswith("l/") for p in lowers)
    rw = RWLayerStore(engine.paths, engine.store.layers)
    rw.create("container1", parent)
    merged = Path(rw.mount("container1"))
    try:
        assert (merged / "top").read_text() == "119\n"
        assert (merged / "layer-000").read_text() == "0\n"
        assert not (merged / "layer-005").exists()
        (merged / "new").write_text("rw")
        assert mounts_under(store_root) == [str(merged)]
    finally:
        rw.unmount("container1")
    assert (store_root / "overlay2/container1/diff/new").read_text() == "rw"
    assert not mounts_under(store_root)
    rw.remove("container1")
    assert not (store_root / "overlay2/container1").exists()


def test_layer_reuse_is_recorded_once(engine, busybox_tar: Path) -> None:
    for name in ("x", "y", "z"):
        with open(busybox_tar, "rb") as f:
            engine.image_import(f, source_name=name, ref=name)
    assert len(engine.store.layers.list()) == 1
    assert len({s.id for s in engine.image_list()}) == 3


def test_an_imported_gnu_tar_saves_byte_for_byte(engine, busybox_tar: Path, tmp_path: Path) -> None:
    """import keeps the layer's tar-split, so save can give back the exact tar it was given."""
    with open(busybox_tar, "rb") as f:
        engine.image_import(f, source_name="gnu", ref="gnu:1")
    out = tmp_path / "saved.tar"
    with open(out, "wb") as f:
        engine.image_save(["gnu:1"], f)
    with tarfile.open(out) as saved:
        manifest = json.load(saved.extractfile("manifest.json"))  # type: ignore[arg-type]
        layer = saved.extractfile(manifest[0]["Layers"][0]).read()  # type: ignore[union-attr]
    assert layer == busybox_tar.read_bytes()
