"""One torn record at a time: it hides only itself.

``system check --repair`` deletes nothing it cannot prove is garbage.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from engine.containers import CreateOptions
from tests.engine import containers_fixtures

cengine = containers_fixtures.cengine


def _import(engine, tar: Path, ref: str) -> str:  # type: ignore[no-untyped-def]
    with open(tar, "rb") as f:
        return engine.image_import(f, source_name=str(tar), ref=ref)


def _tear(path: Path, how: str) -> None:
    """What a crash or a bad disk leaves: an empty file, the first half, or bytes that are not text."""
    os.chmod(path, 0o644)
    data = path.read_bytes()
    path.write_bytes({"empty": b"", "half": data[: len(data) // 2], "garbage": b"\xff\xfe\x00junk"}[how])


def _second_image(engine, tmp_path: Path) -> str:  # type: ignore[no-untyped-def]
    src = tmp_path / "src"
    src.mkdir()
    (src / "hello").write_text("hello\n")
    tar = tmp_path / "second.tar"
    import subprocess

    subprocess.run(["tar", "-C", str(src), "-cf", str(tar), "."], check=True)
    return _import(engine, tar, "second:1")


@pytest.mark.parametrize("how", ["empty", "half", "garbage"])
def test_torn_cache_id_keeps_the_layer_and_repair_rebuilds_it(engine, busybox_tar: Path, store_root: Path,
                                                             berth, how: str) -> None:
    image_id = _import(engine, busybox_tar, "a")
    layer = engine.store.images.image_layers(image_id)[0]
    record = store_root / "image/overlay2/layerdb/sha256" / layer.chain_id[7:]
    _tear(record / "cache-id", how)
    status, out, _ = berth("system", "check")
    assert status == 1 and "damaged layer record" in out and layer.cache_id in out, out
    assert "orphan layer dir" not in out
    status, out, _ = berth("system", "check", "--repair")
    assert status == 0, out
    assert (store_root / "overlay2" / layer.cache_id / "diff/bin/busybox").exists()
    assert (record / "cache-id").read_text() == layer.cache_id
    assert berth("system", "check")[0] == 0


def test_torn_cache_id_of_a_layer_a_container_uses(engine, busybox_tar: Path, store_root: Path, berth) -> None:
    image_id = _import(engine, busybox_tar, "a")
    engine.container_create(CreateOptions(image="a", cmd=["true"], network="none"))
    layer = engine.store.images.image_layers(image_id)[0]
    _tear(store_root / "image/overlay2/layerdb/sha256" / layer.chain_id[7:] / "cache-id", "empty")
    assert berth("system", "check", "--repair")[0] == 0
    assert (store_root / "overlay2" / layer.cache_id / "diff/bin/busybox").exists()
    assert berth("system", "check")[0] == 0


def test_rmi_of_an_image_with_a_torn_cache_id_removes_no_other_layer(engine, busybox_tar: Path, store_root: Path,
                                                                    tmp_path: Path, berth) -> None:
    image_id = _import(engine, busybox_tar, "a")
    other = _second_image(engine, tmp_path)
    other_dir = store_root / "overlay2" / engine.store.images.image_layers(other)[0].cache_id
    layer = engine.store.images.image_layers(image_id)[0]
    _tear(store_root / "image/overlay2/layerdb/sha256" / layer.chain_id[7:] / "cache-id", "empty")
    status, _, err = berth("rmi", "-f", "a")
    assert "Traceback" not in err
    assert (other_dir / "diff/hello").exists()
    assert berth("images", "-q")[1].split() == [other[7:19]]


def test_torn_mount_id_is_rebuilt_from_init_id(engine, busybox_tar: Path, store_root: Path, berth) -> None:
    _import(engine, busybox_tar, "a")
    cid = engine.container_create(CreateOptions(image="a", cmd=["true"], network="none"))
    record = store_root / "image/overlay2/layerdb/mounts" / cid / "mount-id"
    mount_id = record.read_text()
    _tear(record, "half")
    status, out, _ = berth("system", "check")
    assert status == 1 and "damaged mount record" in out and "orphan layer dir" not in out, out
    assert berth("system", "check", "--repair")[0] == 0
    assert record.read_text() == mount_id and (store_root / "overlay2" / mount_id / "diff").is_dir()
    assert berth("system", "check")[0] == 0
    engine.container_remove(cid)


def test_torn_image_config_hides_only_itself(engine, busybox_tar: Path, store_root: Path, tmp_path: Path,
                                             berth) -> None:
    torn = _import(engine, busybox_tar, "a")
    other = _second_image(engine, tmp_path)
    _tear(store_root / "image/overlay2/imagedb/content/sha256" / torn[7:], "half")
    status, out, err = berth("images")
    assert status == 0 and "second" in out and err == "", (out, err)
    status, out, err = berth("system", "df")
    assert status == 0 and "Images          1" in out, (out, err)
    assert berth("system", "df", "-v")[0] == 0
    assert berth("history", "second:1")[0] == 0
    status, out, _ = berth("system", "check", "--repair")
    assert status == 1 and "unreadable image config" in out
    assert berth("images", "-q")[1].split() == [other[7:19]]


def test_torn_config_of_an_image_parent_leaves_its_child_history(engine, busybox_tar: Path, store_root: Path,
                                                                  berth) -> None:
    parent = _import(engine, busybox_tar, "a")
    cid = engine.container_create(CreateOptions(image="a", cmd=["true"], network="none"))
    child = engine.container_commit(cid, "child:1", pause=False)
    engine.container_remove(cid)
    assert engine.store.imagedb.get_parent(child) == parent
    _tear(store_root / "image/overlay2/imagedb/content/sha256" / parent[7:], "half")
    status, out, err = berth("history", "child:1")
    assert status == 0, err
    assert berth("images")[0] == 0


def test_stopped_container_with_a_torn_config_is_listed_and_kept(engine, busybox_tar: Path, store_root: Path,
                                                                berth) -> None:
    _import(engine, busybox_tar, "a")
    keep = engine.container_create(CreateOptions(image="a", cmd=["true"], network="none", name="keep"))
    torn = engine.container_create(CreateOptions(image="a", cmd=["true"], network="none"))
    mount_id = (store_root / "image/overlay2/layerdb/mounts" / torn / "mount-id").read_text()
    _tear(store_root / "containers" / torn / "config.v2.json", "half")
    status, out, err = berth("ps", "-a")
    assert status == 0 and "keep" in out, err
    status, out, _ = berth("system", "check", "--repair")
    assert status == 1 and "damaged container record" in out and torn in out, out
    assert (store_root / "containers" / torn).is_dir() and (store_root / "overlay2" / mount_id / "diff").is_dir()
    status, _, err = berth("rm", "-f", torn)
    assert status == 0, err
    assert not (store_root / "containers" / torn).exists()
    assert berth("system", "check")[0] == 0
    engine.container_remove(keep)


def test_running_container_with_a_torn_config_is_never_deleted(cengine, store_root: Path, berth) -> None:
    cid = containers_fixtures.start_d(cengine, "sleep", "600", network="none")
    pid = cengine.store.records.load(cid)["State"]["Pid"]
    _tear(store_root / "containers" / cid / "config.v2.json", "half")
    status, out, _ = berth("system", "check", "--repair")
    assert "damaged container record" in out and "still runs" in out, out
    assert (store_root / "containers" / cid).is_dir()
    assert os.path.exists(f"/proc/{pid}")
    status, _, err = berth("rm", "-f", cid)
    assert status == 0, err
    assert not os.path.exists(f"/proc/{pid}/cgroup") or cid not in Path(f"/proc/{pid}/cgroup").read_text()
    assert not (store_root / "containers" / cid).exists()


def test_torn_networks_file_is_one_error_line_and_spares_what_needs_no_network(engine, busybox_tar: Path,
                                                                              store_root: Path, berth) -> None:
    _import(engine, busybox_tar, "a")
    bridged = engine.container_create(CreateOptions(image="a", cmd=["true"]))
    plain = engine.container_create(CreateOptions(image="a", cmd=["true"], network="none"))
    networks = store_root / "network/networks.json"
    good = networks.read_bytes()
    _tear(networks, "half")
    try:
        _with_torn_networks(berth, store_root, networks, bridged, plain)
    finally:
        networks.write_bytes(good)  # the teardown reads it to find the store's bridges
    assert json.loads(networks.read_text())["Networks"]
    status, _, err = berth("rm", bridged)
    assert status == 0, err
    assert berth("system", "check")[0] == 0


def _with_torn_networks(berth, store_root: Path, networks: Path, bridged: str, plain: str) -> None:  # type: ignore[no-untyped-def]
    for argv in (("create", "a", "true"), ("rm", bridged), ("run", "--rm", "a", "true")):
        status, _, err = berth(*argv)
        assert status == 1 and err.count("\n") == 1 and err.startswith("Error: ") and str(networks) in err, err
    assert (store_root / "containers" / bridged).is_dir()  # refused before anything was removed
    status, _, err = berth("rm", plain)
    assert status == 0, err
    status, out, err = berth("run", "--rm", "--network", "none", "a", "echo", "needs-no-network")
    assert status == 0 and "needs-no-network" in out, err
    for argv in (("system", "check"), ("system", "check", "--repair")):
        status, out, err = berth(*argv)
        assert status == 1 and "unreadable networks record" in out and "Traceback" not in err, (out, err)


def test_trash_of_an_interrupted_rm_is_reclaimed(engine, busybox_tar: Path, store_root: Path, berth) -> None:
    _import(engine, busybox_tar, "a")
    cid = engine.container_create(CreateOptions(image="a", cmd=["true"], network="none"))
    trash = store_root / "containers" / f".tmp-rm-{cid}-0badf00d"
    shutil.copytree(store_root / "containers" / cid, trash)  # what a kill between rename and delete leaves
    status, out, _ = berth("system", "check")
    assert status == 1 and "leftover temp file" in out and str(trash) in out, out
    assert berth("system", "check", "--repair")[0] == 0
    assert not trash.exists() and (store_root / "containers" / cid).is_dir()
    engine.container_remove(cid)


@pytest.mark.parametrize("field,how", [("size", "garbage"), ("size", "empty"), ("diff", "half"), ("parent", "half")])
def test_torn_diff_size_or_parent_is_rebuilt_when_the_chain_id_proves_it(engine, busybox_tar: Path, store_root: Path,
                                                                        berth, field: str, how: str) -> None:
    _import(engine, busybox_tar, "a")
    cid = engine.container_create(CreateOptions(image="a", cmd=["true"], network="none"))
    top = engine.container_commit(cid, "child:1", pause=False)  # a two-layer chain: the top one has a parent
    engine.container_remove(cid)
    layer = engine.store.images.image_layers(top)[-1]
    record = store_root / "image/overlay2/layerdb/sha256" / layer.chain_id[7:]
    original = (record / field).read_bytes()
    _tear(record / field, how)
    status, out, _ = berth("system", "check")
    assert status == 1 and "damaged layer record" in out and "orphan layer dir" not in out, out
    assert berth("system", "check", "--repair")[0] == 0
    assert (record / field).read_bytes().strip() == original.strip()
    assert berth("system", "check")[0] == 0
    assert berth("history", "child:1")[0] == 0


def test_torn_repositories_file_hides_names_not_ids(engine, busybox_tar: Path, store_root: Path, berth) -> None:
    image_id = _import(engine, busybox_tar, "a")
    _tear(store_root / "image/overlay2/repositories.json", "half")
    status, _, err = berth("images")
    assert status == 1 and err.count("\n") == 1 and "repositories.json" in err and "berth tag" in err, err
    assert engine.image_resolve(image_id[7:19]) == image_id  # by ID it is still there
    status, out, err = berth("run", "--rm", "--network", "none", image_id[7:19], "echo", "by-id")
    assert status == 0 and "by-id" in out, err
    status, out, _ = berth("system", "check", "--repair")
    assert status == 1 and "unreadable tags" in out
    assert engine.store.imagedb.exists(image_id)


def test_trash_a_remover_still_deletes_is_no_leftover(engine, busybox_tar: Path, store_root: Path, berth) -> None:
    """``rm`` deletes its set-aside dirs on threads (the monitor's ``--rm`` too): check must not call them leftovers."""
    from engine.store import atomic

    _import(engine, busybox_tar, "a")
    cid = engine.container_create(CreateOptions(image="a", cmd=["true"], network="none"))
    trash = store_root / "containers" / f".tmp-rm-{cid}-0badf00d"
    shutil.copytree(store_root / "containers" / cid, trash)
    held = atomic.hold_trash(str(trash))  # what a remover holds while it deletes
    try:
        status, out, _ = berth("system", "check")
        assert status == 0 and str(trash) not in out, out
    finally:
        os.close(held)
    status, out, _ = berth("system", "check")
    assert status == 1 and str(trash) in out, out  # let go and still there: a killed remover's
    assert berth("system", "check", "--repair")[0] == 0 and not trash.exists()
    engine.container_remove(cid)
