"""Two stores on one host never touch each other's kernel objects: cgroups, bridges, NAT tables.

Kernel objects are host-wide; a store root is a path, meaningful only in the filesystem view (chroot, mount
namespace) it was named from. A store's repair and a test's teardown act on their own store's objects only,
and take another store's for dead only when that is provable from where they run.
"""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine import Engine
from engine.kernel import syscalls
from engine.network import links, masquerade
from engine.network.subnets import host_subnets, overlaps
from engine.runtime import cgroups
from tests.conftest import _containers_teardown, _network_teardown, mounts_under, unmount_all
from tests.engine.containers_fixtures import cengine, clean_containers, start_d, stop_monitor  # noqa: F401

# check.py's settle time for a new cgroup dir is 5 s: dirs are aged past it rather than waited for.
_AGED = time.time() - 3600


@pytest.fixture
def other_store(tmp_path: Path) -> Iterator[Engine]:
    """A second store with busybox, torn down as ``store_root`` is: its containers, mounts, cgroups, bridges."""
    root = tmp_path / "other" / "store"  # alone in its parent, which a test can hide
    root.mkdir(parents=True)
    engine = Engine(str(root))
    engine.image_bootstrap("busybox:latest")
    try:
        yield engine
    finally:
        leaked = mounts_under(root)
        _containers_teardown(root)
        unmount_all(root)
        _network_teardown(root)
        assert not leaked, f"test left mounts behind: {leaked}"


def _age(path: str) -> None:
    os.utime(path, (_AGED, _AGED))


def test_repair_of_one_store_keeps_another_stores_cgroups(  # type: ignore[no-untyped-def]
        cengine, other_store, berth) -> None:
    # Store B's container dies with its monitor: its cgroups stay, empty, until B's own recovery removes them.
    # They look exactly like a leak, but of B's: A has no say over them.
    theirs = start_d(other_store, "sleep", "100", network="none")
    their_dirs = list(cgroups.for_container(theirs, other_store.root).dirs.values())  # type: ignore[union-attr]
    stop_monitor(other_store)
    deadline = time.monotonic() + 10
    while any(Path(d, "cgroup.procs").read_text() for d in their_dirs):
        assert time.monotonic() < deadline, "the container outlived its monitor"
        time.sleep(0.02)
    for d in their_dirs:
        _age(d)
    assert all(os.path.isdir(d) for d in their_dirs)
    # Store A's own leak: a container cgroup with no container, left by a monitor killed mid-exit.
    leaked = cgroups.for_container("f" * 64, cengine.root)
    assert leaked is not None
    leaked.create(cgroups.Limits())
    leaked_dirs = list(leaked.dirs.values())  # type: ignore[attr-defined]
    for d in leaked_dirs:
        _age(d)
    try:
        status, out, _ = berth("system", "check")
        assert status == 1 and "empty container cgroup" in out
        assert theirs not in out
        assert berth("system", "check", "--repair")[0] == 0
        assert all(os.path.isdir(d) for d in their_dirs), "A's repair removed B's cgroups"
        assert not any(os.path.exists(d) for d in leaked_dirs)
        assert "cgroup" not in berth("system", "check")[1]
    finally:
        leaked.remove()
    # B's own commands still find and remove its container's cgroups, in B's dir.
    other_store.container_remove(theirs, force=True)
    assert not any(os.path.exists(d) for d in their_dirs)


def test_container_cgroups_sit_in_their_stores_own_dir(cengine, other_store) -> None:  # type: ignore[no-untyped-def]
    mine, theirs = start_d(cengine, "sleep", "100", network="none"), start_d(other_store, "sleep", "100",
                                                                               network="none")
    try:
        own, other = cgroups.store_dirs(cengine.root), cgroups.store_dirs(other_store.root)
        assert own and other and not set(own) & set(other)
        for group, cid in ((own, mine), (other, theirs)):
            for d in group:
                assert os.path.basename(d).startswith(cgroups.GROUP_PREFIX)
                assert os.listdir(d).count(cid) == 1 and not {mine, theirs} - {cid} & set(os.listdir(d))
        # stats, exec (joining the cgroups) and pause (the freezer) find the container's own.
        assert cengine.container_stats(mine).pids == 1
        from engine.runtime.nsenter import container_cgroup_procs

        procs = container_cgroup_procs(cengine.store.records.load(mine)["State"]["Pid"])
        assert procs and all(os.path.dirname(os.path.dirname(p)) in own for p in procs)
        cengine.container_pause(mine)
        freezer = cgroups.for_container(mine, cengine.root).dirs["freezer"]  # type: ignore[union-attr]
        assert Path(freezer, "freezer.state").read_text().strip() in ("FREEZING", "FROZEN")
        cengine.container_unpause(mine)
    finally:
        clean_containers(other_store)


# -- bridges ----------------------------------------------------------------------


def _free_subnet(avoid: str = "") -> str:
    used = host_subnets() + ([ipaddress.IPv4Network(avoid)] if avoid else [])
    for third in range(256):
        net = ipaddress.IPv4Network(f"10.{240 + os.getpid() % 10}.{(os.getpid() + third) % 256}.0/24")
        if overlaps(net, used) is None:
            return str(net)
    raise AssertionError("no free test subnet")


def _bridge_of(engine: Engine, name: str) -> str:
    return str(engine.network_inspect(name)["Options"]["com.docker.network.bridge.name"])


_CHILD = r"""
import json, os, sys
sys.path.insert(0, {tree!r})
from engine import Engine
from engine.network import links, manage
from engine.kernel import syscalls
from engine.runtime import rootfs
how, hidden, place, subnet = sys.argv[1:5]
if how == "unshare":  # another mount namespace, where the other store's dir is covered; a test run of its own
    syscalls.unshare(syscalls.CLONE_NEWNS)
    rootfs.make_mounts_private("/proc")  # (this suite may itself run in a chroot whose / is no mount)
    syscalls.mount("tmpfs", hidden, "tmpfs")
    own = Engine(os.path.join(place, "store"))
    own.network_create("n1", subnet=subnet)
    bridge = own.network_inspect("n1")["Options"]["com.docker.network.bridge.name"]
    assert bridge in links.link_names()
    gone = manage.teardown_store(own.root)
    assert "bridge " + bridge in gone and bridge not in links.link_names(), gone
else:  # a chroot (the same mount namespace) with its own /proc, as a debootstrap'd tree has
    links.link_names()  # pyroute2 loaded before its files vanish from view
    os.chroot(place)
    os.chdir("/")
    gone = []
gone += manage.reap_orphans()
print(json.dumps(gone))
"""


@pytest.mark.parametrize("how", ["unshare", "chroot"])
def test_teardown_and_reaping_from_another_view_leave_a_live_store_alone(other_store, tmp_path: Path,
                                                                         how: str) -> None:
    """A test run in a chroot or mount namespace cannot see this host's stores: they are not gone for that."""
    other_store.network_create("n1", subnet=_free_subnet())
    bridge = _bridge_of(other_store, "n1")
    assert bridge in links.bridges_of(other_store.root)
    nat = masquerade.rules_present(other_store.root)
    assert nat or not masquerade.tool()
    place = tmp_path / "view"  # the other view's own files; the other store's dir is hidden from it
    (place / "proc").mkdir(parents=True)
    if how == "chroot":
        syscalls.mount("proc", str(place / "proc"), "proc")
    try:
        child = subprocess.run([sys.executable, "-c", _CHILD.format(tree=str(Path(__file__).parents[2])), how,
                                str(Path(other_store.root).parent), str(place),
                                _free_subnet(avoid=other_store.network_inspect("n1")["IPAM"]["Config"][0]["Subnet"])],
                               capture_output=True, text=True, timeout=60)
    finally:
        if how == "chroot":
            syscalls.umount2(str(place / "proc"), syscalls.MNT_DETACH)
    assert child.returncode == 0, child.stderr
    assert bridge not in child.stdout
    assert bridge in links.link_names(), f"a teardown in a {how} removed a live store's bridge"
    assert masquerade.rules_present(other_store.root) == nat
    # Seen from where it was made, a store whose dir is gone (a test run killed before teardown) is reaped.
    root = other_store.root
    os.rename(root, root + ".aside")
    try:
        from engine.network.manage import reap_orphans

        assert "bridge " + bridge in reap_orphans()
    finally:
        os.rename(root + ".aside", root)
    assert bridge not in links.link_names()
    assert not masquerade.rules_present(root)
