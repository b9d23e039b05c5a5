"""A full disk, for real: a 64 MB ext4 loop filesystem holds the store, filled with fallocate and dd.

Every verb that writes gives exactly one ``Error: …`` line and exit 1 (no traceback); while the disk is
full ``ps``, ``inspect``, ``stop`` and ``rm -f`` work; once space is freed ``system check`` finds the store
consistent.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import _containers_teardown, _network_teardown, mounts_under, unmount_all

pytest_plugins = ["tests.engine.registry_plugin"]  # registry, docker_config

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def small_fs() -> Iterator[Path]:
    """A fresh 64 MB ext4 (no reserved blocks: root fills it like anyone) on a loop device, mounted.

    Its dir is its own, not pytest's tmp_path: a concurrent pytest session may garbage-collect old
    tmp_path trees, and must never reach into a mounted filesystem.
    """
    import shutil
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="berth-enospc-"))
    try:
        yield from _mounted(base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _mounted(base: Path) -> Iterator[Path]:
    image, mnt = base / "fs.img", base / "mnt"
    mnt.mkdir()
    subprocess.run(["truncate", "-s", "64M", str(image)], check=True)
    subprocess.run(["mkfs.ext4", "-q", "-m", "0", "-E", "lazy_itable_init=0,lazy_journal_init=0", str(image)],
                   check=True)
    dev = subprocess.run(["losetup", "--find", "--show", str(image)], check=True, capture_output=True,
                         text=True).stdout.strip()
    try:
        subprocess.run(["mount", dev, str(mnt)], check=True)
        try:
            yield mnt
        finally:
            unmount_all(mnt)  # what a failed test left mounted inside; then the filesystem itself
            if mounts_under(mnt):
                subprocess.run(["umount", "-l", str(mnt)], check=False)
    finally:
        subprocess.run(["losetup", "-d", dev], check=False)


@pytest.fixture
def store_root(small_fs: Path) -> Iterator[Path]:
    """The store on the small filesystem (overrides conftest's), with conftest's teardown."""
    root = small_fs / "store"
    root.mkdir()
    try:
        yield root
    finally:
        free(small_fs)  # a test that failed with the disk full: the teardown needs room like anyone
        _containers_teardown(root)
        for point in mounts_under(root):
            subprocess.run(["umount", "-l", point], check=False)
        _network_teardown(root)


def fill(mnt: Path, leave: int = 0) -> None:
    """Take all the free space but ``leave`` bytes (a few blocks more or less: ext4 rounds)."""
    st = os.statvfs(mnt)
    avail = st.f_bavail * st.f_frsize
    margin = 256 * 1024  # fallocate needs room for its own extent tree
    if avail - leave - margin > 0:
        subprocess.run(["fallocate", "-l", str(avail - leave - margin), str(mnt / "fill")], check=True)
    if leave:
        subprocess.run(["dd", "if=/dev/zero", f"of={mnt / 'fill2'}", "bs=4k",
                        f"count={max(margin - 64 * 1024, 0) // 4096}"], capture_output=True, check=False)
    else:
        for _ in range(5):  # closing a file gives back its preallocation: fill again until nothing is left
            subprocess.run(["dd", "if=/dev/zero", f"of={mnt / 'fill2'}", "bs=4k", "oflag=append", "conv=notrunc"],
                           capture_output=True, check=False)
            os.sync()
            if os.statvfs(mnt).f_bavail == 0:
                break
        # The last few blocks one big file cannot take (its extent tree needs one more): small files take them.
        failures = 0
        for i in range(256):
            try:
                with open(mnt / f"crumb-{i}", "wb") as f:
                    f.write(b"\0" * (4096 if failures == 0 else 1))
                    f.flush()
                    os.fsync(f.fileno())
            except OSError:
                failures += 1
                if failures > 3:
                    break


def free(mnt: Path) -> None:
    for name in ("fill", "fill2"):
        if (mnt / name).exists():
            (mnt / name).unlink()
    for crumb in mnt.glob("crumb-*"):
        crumb.unlink()


def one_error_line(status: int, err: str) -> None:
    assert status == 1 and "Traceback" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), err


def assert_consistent(berth: Any, small_fs: Path) -> None:
    free(small_fs)
    status, out, _ = berth("system", "check")
    assert status == 0 and out.strip().endswith("consistent"), out


def _with_image(engine: Any) -> None:
    engine.image_bootstrap("busybox:latest")


@pytest.mark.parametrize("verb", ["import", "load", "tag", "create", "run", "commit", "build"])
def test_a_write_on_a_full_disk_is_one_error_line(verb: str, engine: Any, berth: Any, small_fs: Path,
                                                  busybox_tar: Path, tmp_path: Path) -> None:
    from engine.containers import CreateOptions

    _with_image(engine)
    argv: tuple[str, ...]
    if verb == "import":
        argv = ("import", str(busybox_tar), "imp:1")
    elif verb == "load":
        saved = tmp_path / "saved.tar"
        with open(saved, "wb") as f:
            engine.image_save(["busybox:latest"], f)
        engine.image_remove("busybox:latest")
        argv = ("load", "-i", str(saved))
    elif verb == "tag":
        argv = ("tag", "busybox", "t:1")
    elif verb == "create":
        argv = ("create", "--network", "none", "busybox", "true")
    elif verb == "run":
        argv = ("run", "--rm", "--network", "none", "busybox", "true")
    elif verb == "commit":
        cid = engine.container_create(CreateOptions(image="busybox", cmd=["true"], network="none"))
        argv = ("commit", cid, "c:1")
    else:
        context = tmp_path / "ctx"
        context.mkdir()
        (context / "Dockerfile").write_text("FROM busybox\nENV A=1\nLABEL x=y\n")
        argv = ("build", "-t", "b:1", str(context))
    before = berth("images", "-q")[1]
    fill(small_fs)
    status, _, err = berth(*argv)
    one_error_line(status, err)
    assert "no space left on device" in err
    assert berth("images", "-q")[1] == before  # nothing half-made is listed
    assert_consistent(berth, small_fs)


def test_save_to_a_full_disk_is_one_error_line(engine: Any, store_root: Path, small_fs: Path) -> None:
    _with_image(engine)
    fill(small_fs, leave=256 * 1024)  # less than busybox's 2 MB
    with open(small_fs / "out.tar", "wb") as out:
        proc = subprocess.run([sys.executable, "-c", "import sys; from tui.cli import main; sys.exit(main())",
                               "--root", str(store_root), "save", "busybox"], stdout=out, stderr=subprocess.PIPE,
                              text=True, cwd=REPO, timeout=120)
    one_error_line(proc.returncode, proc.stderr)
    (small_fs / "out.tar").unlink()
    free(small_fs)
    assert engine.system_check().problems == ()


def test_while_the_disk_is_full_ps_inspect_stop_and_rm_f_work(engine: Any, berth: Any, small_fs: Path) -> None:
    from tests.engine.containers_fixtures import start_d

    _with_image(engine)
    first = start_d(engine, "sleep", "600", network="none")
    second = start_d(engine, "sleep", "600", network="none")
    pids = [engine.store.records.load(cid)["State"]["Pid"] for cid in (first, second)]
    fill(small_fs)
    for argv in (("ps",), ("ps", "-a"), ("inspect", first), ("stop", "-t", "1", first), ("rm", "-f", second),
                 ("ps", "-a")):
        status, _, err = berth(*argv)
        assert status == 0 and err == "", (argv, err)
    assert not os.path.exists(f"/proc/{pids[0]}") and not os.path.exists(f"/proc/{pids[1]}")
    assert not (engine.paths.container_dir(second) and os.path.exists(engine.paths.container_dir(second)))
    status, _, err = berth("rm", "-f", first)
    assert status == 0, err
    assert_consistent(berth, small_fs)


def _pushed_big(registry: Any, tmp_path: Path) -> str:
    """A 3 MB random (incompressible) one-layer image pushed from a store of its own; its name."""
    from tests.engine.distribution_fixtures import fresh_engine

    source = fresh_engine(tmp_path, "source")
    data = tmp_path / "big"
    data.mkdir()
    (data / "noise").write_bytes(os.urandom(3 * 1024 * 1024))
    tar = tmp_path / "big.tar"
    subprocess.run(["tar", "-C", str(data), "-cf", str(tar), "."], check=True)
    name = f"{registry.host}/team/big:1"
    with open(tar, "rb") as f:
        source.image_import(f, source_name=str(tar), ref=name)
    source.image_push(name)
    return name


def test_a_cancelled_pull_leaves_no_partial_blob(engine: Any, registry: Any, docker_config: Path,
                                                 tmp_path: Path) -> None:
    import threading

    from engine.errors import Cancelled

    name = _pushed_big(registry, tmp_path)
    cancel = threading.Event()

    def on_progress(event: Any) -> None:
        if event.action == "Downloading":
            cancel.set()  # the user pressed Esc in the app's pull dialog mid-download

    with pytest.raises(Cancelled):
        engine.image_pull(name, progress=on_progress, cancel=cancel)
    downloads = Path(engine.paths.root) / "image/overlay2/distribution/downloads"
    assert not [n for n in os.listdir(downloads) if not n.startswith(".push")]
    assert engine.system_check().problems == ()


def test_pull_onto_a_full_disk_leaves_no_partial_blob(engine: Any, berth: Any, small_fs: Path, registry: Any,
                                                      docker_config: Path, tmp_path: Path) -> None:
    name = _pushed_big(registry, tmp_path)
    engine.image_bootstrap("busybox:latest")  # the store exists, with its dirs
    fill(small_fs, leave=1024 * 1024)
    status, _, err = berth("pull", name)
    one_error_line(status, err)
    assert "no space left on device" in err
    downloads = engine.paths.root + "/image/overlay2/distribution/downloads"
    assert not [n for n in (os.listdir(downloads) if os.path.isdir(downloads) else []) if not n.startswith(".push")]
    assert_consistent(berth, small_fs)
    status, _, err = berth("pull", name)  # with room again, the same pull works
    assert status == 0, err


def test_an_abandoned_partial_download_is_counted_and_reclaimed(engine: Any, berth: Any) -> None:
    _with_image(engine)
    downloads = Path(engine.paths.root) / "image/overlay2/distribution/downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    partial = downloads / ("ab" * 32 + ".partial")
    partial.write_bytes(b"x" * 100_000)
    status, out, _ = berth("system", "df")
    assert status == 0 and "Pull Downloads   1" in out and "100kB" in out, out
    status, out, _ = berth("system", "check")
    assert status == 1 and "abandoned download" in out
    from engine.distribution.downloads import BlobLock

    lock = BlobLock(str(downloads), "ab" * 32)  # a live pull holds it: hands off
    try:
        berth("system", "check", "--repair")
        assert partial.exists()
    finally:
        lock.release(unlink=False)
    status, out, _ = berth("system", "check", "--repair")
    assert status == 0 and not partial.exists(), out
    assert "Pull Downloads" not in berth("system", "df")[1]
