"""Trees whose depth a container, a layer or a build context chooses: every verb walks them in a loop.

Python 3.11's ``shutil.rmtree``, ``shutil.copytree`` and ``os.walk`` recurse
once per directory level; a chain of 1,200 dirs is past the recursion limit.
"""

from __future__ import annotations

import io
import os
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.archive import apply_layer
from engine.builder.context import BuildContext
from engine.kernel import syscalls
from engine.store.paths import MOUNT_ID_FILE
from engine.store.removal import delete_tree
from tests.engine.build_helpers import BASE, build, file_in_image, import_base, make_context
from tests.engine.containers_fixtures import cengine, clean_containers, start_d  # noqa: F401

DEPTH = 1200
_LOOP = f'i=0; while [ $i -lt {DEPTH} ]; do mkdir d; cd d; i=$((i+1)); done; echo deep > f'


@pytest.fixture(autouse=True)
def _no_deep_tree_left(tmp_path: Path) -> Iterator[None]:
    """Delete the test's trees last (after the store's teardown): pytest's own cleanup is ``shutil.rmtree``."""
    yield
    for name in os.listdir(tmp_path):
        delete_tree(os.path.join(tmp_path, name), ignore_errors=True)


def _chain(top: str, depth: int = DEPTH, name: str = "d") -> None:
    """``top/d/d/…`` ``depth`` deep, made through dir fds (no path ever longer than a name)."""
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(depth):
        os.mkdir(name, dir_fd=fd)
        child = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = child
    os.close(fd)


def _chain_tar(tar: tarfile.TarFile, depth: int = DEPTH) -> None:
    """The entries of ``d/d/…`` ``depth`` deep, parents first (``TarFile.add`` would recurse per level)."""
    for level in range(1, depth + 1):
        info = tarfile.TarInfo("/".join(["d"] * level))
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(info)


def _mount_id(engine, cid: str) -> str:  # type: ignore[no-untyped-def]
    with open(os.path.join(engine.paths.mount_record(cid), MOUNT_ID_FILE), encoding="ascii") as f:
        return f.read().strip()


def _overlay_names(engine) -> set[str]:  # type: ignore[no-untyped-def]
    return set(os.listdir(engine.paths.overlay))


def _deep_stopped(engine, berth) -> str:  # type: ignore[no-untyped-def]
    """A created container whose upper dir holds ``/d`` 1,200 deep (written on the host side)."""
    status, out, err = berth("create", "--network", "none", "busybox", "true")
    assert status == 0, err
    cid = out.strip()
    _chain(engine.paths.diff_dir(_mount_id(engine, cid)))
    return cid


def test_rm_f_of_a_running_container_with_a_deep_tree_leaves_no_layer(cengine, berth) -> None:  # type: ignore[no-untyped-def]
    before = _overlay_names(cengine)
    cid = start_d(cengine, "sleep", "1000", network="none", name="deep")
    assert cengine.container_exec("deep", ["sh", "-c", _LOOP]) == 0
    status, out, err = berth("rm", "-f", "deep")
    assert (status, out.strip()) == (0, "deep"), err
    assert "Traceback" not in err and "RecursionError" not in err
    assert _overlay_names(cengine) == before, "the container's layer (or its .tmp-rm- trash) is left"
    assert not os.path.exists(cengine.paths.container_dir(cid))
    status, out, err = berth("system", "check")
    assert status == 0, out + err


def test_system_check_repair_removes_a_deep_orphan(cengine, berth) -> None:  # type: ignore[no-untyped-def]
    before = _overlay_names(cengine)
    trash = os.path.join(cengine.paths.overlay, ".tmp-rm-0123456789abcdef-deadbeef")
    os.mkdir(trash)
    _chain(trash)
    status, out, err = berth("system", "check")
    assert status != 0 and ".tmp-rm-" in out + err
    status, out, err = berth("system", "check", "--repair")
    assert "Traceback" not in err
    assert _overlay_names(cengine) == before
    status, out, err = berth("system", "check")
    assert status == 0, out + err


def test_diff_ps_s_and_df_v_of_a_deep_container(cengine, berth) -> None:  # type: ignore[no-untyped-def]
    _deep_stopped(cengine, berth)
    status, out, err = berth("diff", cengine.container_list(all=True)[0].id)
    assert status == 0, err
    lines = out.splitlines()
    assert len(lines) == DEPTH and lines[0] == "A /d" and lines[-1] == "A " + "/d" * DEPTH
    status, out, err = berth("ps", "-a", "-s")
    assert status == 0 and "Traceback" not in err, err
    status, out, err = berth("system", "df", "-v")
    assert status == 0 and "Traceback" not in err, err


def test_ps_s_and_df_v_size_a_container_deeper_than_path_max(cengine, berth) -> None:  # type: ignore[no-untyped-def]
    status, out, err = berth("create", "--network", "none", "busybox", "true")
    cid = out.strip()
    upper = cengine.paths.diff_dir(_mount_id(cengine, cid))
    _chain(upper, 2100)  # "/d" * 2100 is past PATH_MAX (4096): no walk by path can reach the bottom
    fd = os.open(upper, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(2100):
            child = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = child
        file_fd = os.open("f", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        os.write(file_fd, b"x" * 777)
        os.close(file_fd)
    finally:
        os.close(fd)
    [summary] = [s for s in cengine.container_list(all=True, size=True) if s.id == cid]
    assert summary.size_rw == 777
    status, out, err = berth("ps", "-a", "-s")
    assert status == 0 and "777B" in out, out + err
    status, out, err = berth("system", "df", "-v")
    assert status == 0, err


def test_commit_then_a_volume_copies_and_drops_the_deep_tree(cengine, berth) -> None:  # type: ignore[no-untyped-def]
    cid = _deep_stopped(cengine, berth)
    status, out, err = berth("commit", cid, "deep:1")
    assert status == 0, err
    # The image's /d seeds an anonymous volume (copied on start), which ``--rm`` removes again.
    volumes_before = set(os.listdir(cengine.paths.volumes)) if os.path.isdir(cengine.paths.volumes) else set()
    status, out, err = berth("run", "--rm", "--network", "none", "-v", "/d", "deep:1",
                             "sh", "-c", f"cd /d && for i in $(seq 2 {DEPTH}); do cd d; done; pwd | wc -c")
    assert status == 0, err
    assert out.strip() == str(2 * DEPTH + 1)
    deadline = time.monotonic() + 30  # the monitor removes a --rm container (and its volume) just after its exit
    while set(os.listdir(cengine.paths.volumes)) != volumes_before:
        assert time.monotonic() < deadline, os.listdir(cengine.paths.volumes)
        time.sleep(0.05)


def test_layer_contents_of_a_layer_that_deletes_a_deep_tree(cengine, berth) -> None:  # type: ignore[no-untyped-def]
    cid = _deep_stopped(cengine, berth)
    with open(os.path.join(cengine.paths.diff_dir(_mount_id(cengine, cid)), "d" + "/d" * (DEPTH - 1), "f"), "wb") as f:
        f.write(b"x" * 1000)
    assert berth("commit", cid, "deep:1")[0] == 0
    status, out, err = berth("create", "--network", "none", "deep:1", "true")
    assert status == 0, err
    os.mknod(os.path.join(cengine.paths.diff_dir(_mount_id(cengine, out.strip())), "d"), 0o600 | 0o020000, 0)
    assert berth("commit", out.strip(), "deep:2")[0] == 0
    image = cengine.image_inspect("deep:2")
    top = cengine.store.images.image_layers(image["Id"])[-1]
    contents = cengine.image_layer_contents("deep:2", top.chain_id)
    assert (contents.deleted, contents.deleted_bytes) == (1, 1000)
    assert cengine.image_efficiency("deep:2").wasted == 1000
    before = _overlay_names(cengine)
    clean_containers(cengine)
    status, out, err = berth("rmi", "deep:2", "deep:1")
    assert status == 0 and "Traceback" not in err, err
    assert len(_overlay_names(cengine)) == len(before) - 6  # two containers' layers and their -init, two image layers
    assert berth("system", "check")[0] == 0


def test_applying_a_layer_that_replaces_a_deep_dir(tmp_path: Path) -> None:
    tar_path = tmp_path / "layer.tar"
    with tarfile.open(tar_path, "w", format=tarfile.PAX_FORMAT) as tar:
        _chain_tar(tar)
        info = tarfile.TarInfo("d")  # then a file of the same name: the dir goes first
        info.size = 2
        tar.addfile(info, io.BytesIO(b"ok"))
    dest = tmp_path / "dest"
    dest.mkdir()
    apply_layer(str(tar_path), str(dest), archive_name="layer.tar")
    assert (dest / "d").read_bytes() == b"ok"


def test_a_deep_build_context_is_walked_and_removed(tmp_path: Path) -> None:
    tar_path = tmp_path / "context.tar"
    with tarfile.open(tar_path, "w", format=tarfile.PAX_FORMAT) as tar:
        _chain_tar(tar, 1)
    with open(tar_path, "rb") as f:
        context = BuildContext.from_stream(f)
    root = context.root
    _chain(os.path.join(root, "d"), DEPTH - 1)  # deepened in place: unpacking checks each name's realpath (slow)
    assert len(list(context.walk("."))) == DEPTH
    context.close()
    assert not os.path.exists(root)


def test_delete_tree_never_follows_a_link_nor_enters_a_mount(tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    canary.mkdir()
    (canary / "keep").write_text("x")
    top = tmp_path / "top"
    top.mkdir()
    _chain(str(top), 50)
    deep = top / Path(*["d"] * 50)
    (deep / "link").symlink_to(canary)
    (deep / "file").write_text("y")
    delete_tree(str(top))
    assert not top.exists() and (canary / "keep").read_text() == "x"

    top.mkdir()
    (top / "mnt").mkdir()
    syscalls.mount("tmpfs", str(top / "mnt"), "tmpfs", 0, "size=1m")
    try:
        (top / "mnt" / "held").write_text("z")
        with pytest.raises(OSError):
            delete_tree(str(top))
        delete_tree(str(top), ignore_errors=True)
        assert (top / "mnt" / "held").read_text() == "z"
    finally:
        syscalls.umount2(str(top / "mnt"), 0)
    delete_tree(str(top))
    assert not top.exists()


def test_build_adds_a_tar_naming_a_file_1200_deep_without_its_dirs(engine, busybox_tar: Path, tmp_path: Path) -> None:
    import_base(engine, busybox_tar)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("/".join(["d"] * DEPTH) + "/f")  # no entry for any of its dirs
        info.size = 2
        tar.addfile(info, io.BytesIO(b"ok"))
    context = make_context(tmp_path / "ctx", {"deep.tar": buf.getvalue()})
    image_id, _ = build(engine, context, f"FROM {BASE}\nADD deep.tar /x/\n")
    assert file_in_image(engine, image_id, "/x/" + "d/" * DEPTH + "f") == b"ok"
    assert engine.system_check().ok
