"""``system check`` for networking: netns mounts of containers that no longer run, leases of removed containers."""

from __future__ import annotations

import os
import time

from ..errors import StoreCorrupt
from ..models import CheckProblem
from ..store.paths import NETWORKS_FILE, StorePaths
from . import naming, netns
from .networks import NetworkStore

__all__ = ["network_problems", "repair_network"]

STALE_NETNS = "stale netns"
ORPHAN_LEASE = "orphan address lease"
ORPHAN_BRIDGE = "orphan bridge"
UNREADABLE_NETWORKS = "unreadable networks record"
# A starting container's netns exists a moment before its record says running.
_SETTLE_SECONDS = 5.0


def _live_build_step(paths: StorePaths, cid: str) -> bool:
    """A RUN step's lease and netns are its build container's while its builder holds ``tmp/<id>.lock``."""
    from ..store.locks import try_lock_path

    lock = os.path.join(paths.staging, cid + ".lock")
    fd = try_lock_path(lock)
    if fd is None:
        return os.path.exists(lock)
    os.close(fd)
    return False


def network_problems(paths: StorePaths, running: set[str]) -> list[CheckProblem]:
    problems = []
    ns_dir = naming.netns_dir(paths.root)
    for cid in sorted(os.listdir(ns_dir)) if os.path.isdir(ns_dir) else []:
        path = os.path.join(ns_dir, cid)
        if cid in running or _live_build_step(paths, cid):
            continue
        # A container's netns may exist a moment before its record says running; a build step's (no
        # container dir) is stale as soon as its builder's lock is free.
        if _settled(path) or not os.path.isdir(paths.container_dir(cid)):
            problems.append(CheckProblem(STALE_NETNS, path, "container is not running"))
    try:
        recs = NetworkStore(paths).all().values()
    except StoreCorrupt as err:  # no bridge or lease can be judged without it: report the file, touch nothing
        problems.append(CheckProblem(UNREADABLE_NETWORKS, paths.network_file(NETWORKS_FILE), str(err), False))
        return problems
    if os.path.isdir(os.path.dirname(paths.network_file(NETWORKS_FILE))):
        from . import links  # pyroute2: only for a store that has ever had a network
        from .networks import BRIDGE_NAME_OPTION

        known = {rec["Options"][BRIDGE_NAME_OPTION] for rec in recs}
        for name in links.bridges_of(paths.root):
            if name not in known:
                problems.append(CheckProblem(ORPHAN_BRIDGE, name, "no network of this store uses it"))
    for rec in recs:
        for ip, cid in sorted(rec["Leases"].items()):
            if not os.path.isdir(paths.container_dir(cid)) and not _live_build_step(paths, cid):
                problems.append(CheckProblem(ORPHAN_LEASE, paths.network_file(NETWORKS_FILE),
                                             f"{rec['Name']} {ip} -> {cid[:12]} (no such container)"))
    return problems


def repair_network(paths: StorePaths, problem: CheckProblem) -> bool:
    """Fix one of ours; False when the problem is not a network one."""
    if problem.kind == STALE_NETNS:
        netns.remove(problem.path)
        return True
    if problem.kind == ORPHAN_BRIDGE:
        from . import links
        from .networks import BRIDGE_NAME_OPTION

        store = NetworkStore(paths)
        with store.lock:  # a network being created holds it from "bridge made" to "recorded"
            if problem.path not in {r["Options"][BRIDGE_NAME_OPTION] for r in store.all().values()}:
                links.delete_link(problem.path)
        return True
    if problem.kind == ORPHAN_LEASE:
        store = NetworkStore(paths)
        for rec in store.all().values():
            for cid in set(rec["Leases"].values()):
                if not os.path.isdir(paths.container_dir(cid)) and not _live_build_step(paths, cid):
                    store.release(cid)
        return True
    return False


def _settled(path: str) -> bool:
    try:
        return time.time() - os.lstat(path).st_mtime > _SETTLE_SECONDS
    except OSError:
        return False
