"""Fixtures shared by every suite: a fresh store root per test, and leak checks."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.kernel import syscalls


def mounts_under(root: Path) -> list[str]:
    """Mount points at or below ``root``, deepest first, from /proc/self/mountinfo."""
    prefix = str(root)
    found = []
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        for line in f:
            point = line.split()[4].encode().decode("unicode_escape")
            if point == prefix or point.startswith(prefix + "/"):
                found.append(point)
    return sorted(found, key=lambda p: p.count("/"), reverse=True)


def unmount_all(root: Path) -> None:
    for point in mounts_under(root):
        try:
            syscalls.umount2(point, syscalls.MNT_DETACH)
        except OSError:
            pass


# Every test talks only to this machine and the namespaces it made: a proxy set for the machine (a CI
# runner's) must not see that traffic (urllib in the helpers would send even 127.0.0.1 through it).
# The proxy tests set their own.
_PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "ftp_proxy")


def pytest_sessionstart(session: pytest.Session) -> None:
    if os.geteuid() != 0:
        raise pytest.UsageError("berth's tests mount overlays and create namespaces: run them as root")
    for var in _PROXY_VARS:
        os.environ.pop(var, None)
        os.environ.pop(var.upper(), None)
    _reap_killed_runs()


def _reap_killed_runs() -> None:
    """Bridges left by a test run killed before its teardown, whose store dir has since gone.

    Only stores provably gone go (made from this filesystem view, root removed: ``reap_orphans``): a run in
    a chroot never takes the host's stores, which it cannot see, for dead ones. Teardown itself removes only
    its own store's objects.
    """
    if os.path.isdir("/sys/class/net"):
        from engine.network.manage import reap_orphans

        reap_orphans()


@pytest.fixture
def store_root(tmp_path: Path) -> Iterator[Path]:
    """A fresh, empty store root; every mount under it is removed afterwards, and a leak fails the test."""
    root = tmp_path / "store"
    root.mkdir()
    try:
        yield root
    finally:
        leaked = mounts_under(root)
        _containers_teardown(root)
        unmount_all(root)
        _network_teardown(root)
    assert not leaked, f"test left mounts behind: {leaked}"


def _containers_teardown(root: Path) -> None:
    """Containers a test left behind (it failed before removing them) and the store's monitor, by its PID."""
    if not (root / "containers").is_dir():
        return
    from engine import Engine
    from engine.errors import BerthError
    from tests.engine.containers_fixtures import stop_monitor

    engine = Engine(str(root))
    try:
        left = [c.id for c in engine.container_list(all=True)]
    except BerthError:
        left = []
    for cid in left:
        try:
            engine.container_remove(cid, force=True)
        except BerthError:
            pass
    stop_monitor(engine)
    # A container the monitor was still removing (``--rm``) may have lost its record before its cgroup: every
    # container this store ever made is in its event journal.
    from engine.containers.recovery import remove_cgroup
    from engine.runtime.cgroups import store_dirs

    for cid in {e.id for e in engine.events_read(0)[0] if e.type == "container"}:
        remove_cgroup(str(root), cid)
    for group in store_dirs(str(root)):  # the store's own ``berth-<hash>`` dirs: nobody else's
        try:
            os.rmdir(group)
        except OSError:
            pass  # absent (no container ever started), or still holding a leak that clean_containers reports


def _network_teardown(root: Path) -> None:
    """The store's bridges, NAT table and netns mounts (kernel objects outlive the temporary dir)."""
    if (root / "network").exists() or os.path.isdir("/run/berth/netns"):
        from engine.network.manage import teardown_store

        teardown_store(str(root))


BUSYBOX = "/bin/busybox"


@pytest.fixture(scope="session")
def busybox_rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A busybox root filesystem dir, as ``berth bootstrap`` lays one out."""
    from engine.importer import make_busybox_rootfs

    if not os.path.exists(BUSYBOX):
        raise pytest.UsageError("tests need Debian's busybox-static: apt-get install busybox-static")
    root = tmp_path_factory.mktemp("busybox") / "rootfs"
    make_busybox_rootfs(str(root), BUSYBOX)
    return root


@pytest.fixture(scope="session")
def busybox_tar(busybox_rootfs: Path) -> Path:
    """That root filesystem packed by GNU tar, the way users make rootfs tarballs."""
    import subprocess

    out = busybox_rootfs.parent / "busybox-rootfs.tar"
    subprocess.run(["tar", "-C", str(busybox_rootfs), "-cf", str(out), "."], check=True)
    return out


@pytest.fixture
def engine(store_root: Path):  # type: ignore[no-untyped-def]
    """An Engine on the fresh store root."""
    from engine import Engine

    return Engine(str(store_root))


@pytest.fixture
def berth(store_root: Path, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Run the CLI in-process on the test's store: ``berth("images")`` → (status, stdout, stderr)."""
    from tui.cli import main

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        status = main(["--root", str(store_root), *argv])
        out, err = capsys.readouterr()
        return status, out, err

    return run
