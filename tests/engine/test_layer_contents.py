"""Layer contents and image efficiency, read from real layers registered in a real store."""

from __future__ import annotations

import io
import tarfile

import pytest

from engine.errors import LayerNotFound
from engine.layer_contents import ADDED, CHANGED, DELETED, FileNode


def _tar(entries: list[tuple[str, bytes | None]]) -> bytes:
    """A layer tar: (name, data) is a file, (name, None) a dir."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 1_600_000_000
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tf.addfile(info)
            else:
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


LAYERS = [
    # base: two files at the top, a dir with two files
    [("etc", None), ("etc/a", b"a" * 100), ("etc/b", b"b" * 50), ("big", b"x" * 1000), ("keep", b"k" * 10)],
    # overwrite etc/a (bigger), delete big, add new
    [("etc", None), ("etc/a", b"A" * 300), (".wh.big", b""), ("new", b"n" * 7)],
    # etc becomes opaque: etc/a and etc/b hidden, etc/c added
    [("etc", None), ("etc/.wh..wh..opq", b""), ("etc/c", b"c" * 5)],
]


@pytest.fixture
def layered(engine):  # type: ignore[no-untyped-def]
    """An image ``layered:1`` of the three layers above; returns (engine, chain ids)."""
    from engine import reference
    from engine.importer import base_config

    parent = None
    chain, diff_ids = [], []
    for index, entries in enumerate(LAYERS):
        layer = engine.store.layers.register(io.BytesIO(_tar(entries)), parent, archive_name=f"layer{index}")
        parent = layer.chain_id
        chain.append(layer.chain_id)
        diff_ids.append(layer.diff_id)
    config = base_config("2025-11-28T00:00:00Z")
    config["rootfs"]["diff_ids"] = diff_ids
    config["history"] = [{"created": "2025-11-28T00:00:00Z", "created_by": f"step {i}"} for i in range(3)]
    engine.store.importer.commit_config(config, reference.parse("layered:1"))
    return engine, chain


def _find(node: FileNode, path: str) -> FileNode:
    for name in path.split("/"):
        node = next(c for c in node.children if c.name == name)
    return node


def test_base_layer_adds_everything(layered) -> None:  # type: ignore[no-untyped-def]
    engine, chain = layered
    contents = engine.image_layer_contents("layered:1", chain[0])
    assert contents.changed == contents.deleted == 0
    assert contents.added == 5  # etc, etc/a, etc/b, big, keep
    assert contents.added_bytes == 1160
    assert _find(contents.root, "etc").size == 150 and _find(contents.root, "etc").kind == ADDED
    assert contents.root.size == 1160


def test_second_layer_changes_and_deletes(layered) -> None:  # type: ignore[no-untyped-def]
    engine, chain = layered
    contents = engine.image_layer_contents("layered:1", chain[1])
    assert _find(contents.root, "etc/a").kind == CHANGED and _find(contents.root, "etc/a").size == 300
    assert _find(contents.root, "etc").kind == ""  # only a parent of a change
    big = _find(contents.root, "big")
    assert big.kind == DELETED and big.size == 1000
    assert _find(contents.root, "new").kind == ADDED
    assert (contents.added, contents.changed, contents.deleted) == (1, 1, 1)
    assert (contents.added_bytes, contents.changed_bytes, contents.deleted_bytes) == (7, 300, 1000)


def test_opaque_dir_deletes_what_it_hides(layered) -> None:  # type: ignore[no-untyped-def]
    engine, chain = layered
    contents = engine.image_layer_contents("layered:1", chain[2])
    etc = _find(contents.root, "etc")
    assert etc.kind == CHANGED
    kinds = {c.name: (c.kind, c.size) for c in etc.children}
    assert kinds == {"a": (DELETED, 300), "b": (DELETED, 50), "c": (ADDED, 5)}
    assert contents.deleted == 2 and contents.deleted_bytes == 350


def test_efficiency_counts_overwritten_and_deleted_bytes(layered) -> None:  # type: ignore[no-untyped-def]
    engine, _ = layered
    eff = engine.image_efficiency("layered:1")
    assert eff.written == 1160 + 307 + 5
    # etc/a: 100 overwritten + 300 hidden; etc/b 50 hidden; big 1000 deleted
    assert eff.wasted == 100 + 300 + 50 + 1000
    assert eff.efficiency == pytest.approx((eff.written - eff.wasted) / eff.written)
    worst = {p.path: (p.layers, p.wasted) for p in eff.paths}
    assert worst["/big"] == (2, 1000)
    assert worst["/etc/a"] == (2, 400)
    assert eff.paths[0].path == "/big"
    assert "/keep" not in worst


def test_single_layer_image_is_fully_efficient(engine) -> None:  # type: ignore[no-untyped-def]
    engine.image_bootstrap("busybox:latest")
    eff = engine.image_efficiency("busybox:latest")
    assert eff.wasted == 0 and eff.efficiency == 1.0 and eff.written > 0


def test_unknown_layer_is_a_clear_error(layered) -> None:  # type: ignore[no-untyped-def]
    engine, _ = layered
    with pytest.raises(LayerNotFound):
        engine.image_layer_contents("layered:1", "sha256:" + "0" * 64)


def test_no_ui_library_in_layer_contents() -> None:
    import subprocess
    import sys

    code = ("import sys, engine.layer_contents; "
            "print([m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_hard_links_count_their_bytes_once(engine) -> None:  # type: ignore[no-untyped-def]
    """busybox's applets are hard links to one binary: its bytes are written once, not once per name."""
    from engine import reference
    from engine.importer import base_config

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        data = b"b" * 1000
        info = tarfile.TarInfo("bin/busybox")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
        for name in ("bin/sh", "bin/ls"):
            link = tarfile.TarInfo(name)
            link.type, link.linkname = tarfile.LNKTYPE, "bin/busybox"
            tf.addfile(link)
    layer = engine.store.layers.register(io.BytesIO(buf.getvalue()), None, archive_name="links")
    config = base_config("2025-11-28T00:00:00Z")
    config["rootfs"]["diff_ids"] = [layer.diff_id]
    engine.store.importer.commit_config(config, reference.parse("links:1"))
    eff = engine.image_efficiency("links:1")
    assert eff.written == 1000 and eff.efficiency == 1.0
    contents = engine.image_layer_contents("links:1", layer.chain_id)
    assert contents.added_bytes == 1000
