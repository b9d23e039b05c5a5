"""Deleting a stopped container: its writable layers, its mount record, then its directory."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..errors import BerthError, ContainerConflict, ContainerNotFound, StoreCorrupt
from ..store import atomic
from ..store.paths import INIT_SUFFIX, MOUNT_ID_FILE
from ..store.removal import delete_tree
from . import names

if TYPE_CHECKING:
    from ..context import StoreContext

# Threads that delete removed trees: on ext4 four overlap their waits for the journal (measured: 200
# container layers, 1 thread ~0.5-1.9 s, 2 threads 0.46 s, 4 threads 0.29 s, 8 threads 0.36 s).
_DELETERS = 4

__all__ = ["kill_by_cgroup", "mount_id_of", "pids_in_cgroup_of", "remove_container_files", "remove_containers",
           "remove_many_files"]


def mount_id_of(store: StoreContext, cid: str) -> str:
    """The cache-id of the container's writable layer, from ``layerdb/mounts/<id>/mount-id``."""
    path = os.path.join(store.paths.mount_record(cid), MOUNT_ID_FILE)
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    except OSError as err:
        raise BerthError(f"container {cid[:12]} has no mount record: {err.strerror}") from err


def remove_containers(store: StoreContext, names: list[str], *, force: bool = False,
                      volumes: bool = False) -> list[tuple[str, str, BerthError | None]]:
    """``rm`` of many: (id, name, error) per name, in order.

    Stopped containers go in one batch under one store lock (``rm`` of 50: one pass,
    not 50 lock round trips); running ones (``-f``) are killed and removed in parallel.
    """
    from .lifecycle import current, remove

    results: list[tuple[str, str, BerthError | None]] = []
    stopped: list[str] = []
    running: dict[str, BerthError | None] = {}
    for name in names:
        try:
            cid = store.records.resolve(name)
            if cid in stopped or cid in running:
                raise ContainerNotFound(f"No such container: {name}")
            try:
                config = current(store, cid)
            except StoreCorrupt:
                if not force:
                    raise
                # A torn config.v2.json: its process is found by its cgroup, killed, and the rest removed as usual.
                kill_by_cgroup(cid, store.paths.root)
                stopped.append(cid)
                results.append((cid, "", None))
                continue
            if config["State"]["Running"] and not force:
                raise ContainerConflict(f"You cannot remove a running container {cid}. Stop the container "
                                        "before attempting removal or force remove")
            if config["State"]["Running"]:
                running[cid] = None
            else:
                stopped.append(cid)
            results.append((cid, str(config.get("Name", "")).lstrip("/"), None))
        except BerthError as err:
            results.append(("", "", err))

    def one(cid: str) -> None:
        try:
            remove(store, cid, force=True, volumes=volumes)
        except BerthError as err:
            running[cid] = err

    threads = [threading.Thread(target=one, args=(cid,)) for cid in running]
    for thread in threads:
        thread.start()
    remove_many_files(store, stopped, volumes)
    for thread in threads:
        thread.join()
    return [(cid, label, err or running.get(cid)) for cid, label, err in results]


def remove_container_files(store: StoreContext, cid: str, volumes: bool = False) -> None:
    """Records first (so nothing lists a half-removed container), then the layers they pointed at.

    ``volumes`` (``rm -v``, ``--rm``): its anonymous volumes too, once no record mounts them.
    """
    remove_many_files(store, [cid], volumes)


def remove_many_files(store: StoreContext, cids: list[str], volumes: bool = False) -> None:
    """``remove_container_files`` for many stopped containers under one store lock.

    Every record dir is renamed aside, then its parent synced once; then every mount
    record; then every layer dir: a crash leaves trash (``.tmp-rm-*``, which ``system
    check`` reclaims), never a record that points at a missing layer. The trash is
    deleted after the lock is released.
    """
    leases = _leases_readable(store, cids)
    mount_ids = [_mount_id_or_none(store, cid) for cid in cids]
    configs = [_config_or_none(store, cid) for cid in cids]
    with store.lock:
        trash = _set_aside(store.paths.container_dir(cid) for cid in cids)
        # after the records: the index may hold too much, never too little
        for cid, config in zip(cids, configs, strict=True):
            if config is not None:
                names.release(store.paths, str(config.get("Name", "")), cid)
        trash += _set_aside(store.paths.mount_record(cid) for cid in cids)
        for mount_id in filter(None, mount_ids):
            store.rwlayers.unmount(mount_id)
        trash += _set_aside(_unlinked_layer_dir(store, cache_id) for mount_id in mount_ids if mount_id
                            for cache_id in (mount_id, mount_id + INIT_SUFFIX))
    deleters = _delete_in_background(trash)
    from ..network.endpoint import detach, release_many
    from .recovery import remove_cgroup

    for cid in cids:
        try:
            os.unlink(store.paths.container_lock(cid))
        except FileNotFoundError:
            pass
        remove_cgroup(store.paths.root, cid)
        detach(store.paths.root, cid)
    if leases:
        release_many(store, cids)
    for config in filter(None, configs if volumes else []):
        from .volumes import remove_anonymous

        remove_anonymous(store, config)
    for thread in deleters:
        thread.join()


def pids_in_cgroup_of(cid: str) -> list[int]:
    """Processes on the host in a cgroup named for the container (its init, its execs), from /proc/<pid>/cgroup.

    The answer when its record is torn or its monitor gone: the kernel's, not a record's.
    """
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(os.path.join("/proc", name, "cgroup"), encoding="utf-8") as f:
                if cid in f.read():
                    out.append(int(name))
        except OSError:
            continue
    return out


def kill_by_cgroup(cid: str, root: str) -> None:
    """SIGKILL every process in a cgroup named for ``cid`` and wait until each is gone (a few seconds at most).

    For a container whose record cannot say its pid: /proc/<pid>/cgroup still can.
    """
    import select
    import signal

    pidfds = []
    for pid in pids_in_cgroup_of(cid):
        try:
            fd = os.pidfd_open(pid)
        except OSError:
            continue
        try:
            signal.pidfd_send_signal(fd, signal.SIGKILL)
        except OSError:
            pass
        pidfds.append(fd)
    if pidfds:
        from ..runtime.cgroups import for_container

        group = for_container(cid, root)
        try:
            if group is not None:
                group.freeze(False)  # a paused container's processes die only once thawed
        except (OSError, KeyError):
            pass
    for fd in pidfds:
        try:
            select.select([fd], [], [], 5.0)
        finally:
            os.close(fd)


def _delete_in_background(trees: list[tuple[str, int]]) -> list[threading.Thread]:
    """Delete set-aside trees on a few threads (each unlink waits on the disk; they overlap well).

    Each tree's lock (taken by ``_set_aside``) is let go only once it is gone.
    """
    pending = list(trees)

    def work() -> None:
        while pending:
            try:
                tree, held = pending.pop()
            except IndexError:
                return
            try:
                delete_tree(tree, ignore_errors=True)
            finally:
                if held >= 0:
                    os.close(held)

    threads = [threading.Thread(target=work, daemon=True) for _ in range(min(_DELETERS, len(trees)))]
    for thread in threads:
        thread.start()
    return threads


def _leases_readable(store: StoreContext, cids: list[str]) -> bool:
    """Whether the networks file can be read; when it cannot, fail before removing anything if one of
    ``cids`` holds a lease (it could not be freed), else go on without it (``--network none``/``host``)."""
    from ..network.networks import NetworkStore

    try:
        NetworkStore(store.paths).all()
        return True
    except StoreCorrupt:
        for cid in cids:
            config = _config_or_none(store, cid) or {}
            if any(s.get("NetworkID") for s in config.get("NetworkSettings", {}).get("Networks", {}).values()):
                raise
        return False


def _mount_id_or_none(store: StoreContext, cid: str) -> str | None:
    try:
        return mount_id_of(store, cid)
    except BerthError:
        return None


def _config_or_none(store: StoreContext, cid: str) -> dict[str, Any] | None:
    try:
        return store.records.load(cid)
    except BerthError:
        return None


def _unlinked_layer_dir(store: StoreContext, cache_id: str) -> str:
    """A layer dir about to be removed, its short link (``overlay2/l/…``) already gone."""
    try:
        with open(store.paths.link_file(cache_id), encoding="ascii") as f:
            link_id = f.read().strip()
    except (FileNotFoundError, NotADirectoryError):
        link_id = ""
    if link_id and os.path.islink(store.paths.link(link_id)):
        os.unlink(store.paths.link(link_id))
    return store.paths.layer_dir(cache_id)


def _set_aside(paths: Iterable[str]) -> list[tuple[str, int]]:
    """Rename each existing path aside (``.tmp-rm-<name>-<random>``), then sync each parent once.

    A dir is flock'ed before its rename and stays locked until deleted (``atomic.hold_trash``): ``system
    check`` tells a removal in progress from trash a killed ``rm`` left by that lock.
    """
    moved, parents = [], set()
    for path in paths:
        held = atomic.hold_trash(path)
        try:
            doomed = atomic.rename_aside(path)
        except BaseException:
            if held >= 0:
                os.close(held)
            raise
        if doomed is None:
            if held >= 0:
                os.close(held)
            continue
        moved.append((doomed, held))
        parents.add(os.path.dirname(path))
    for parent in sorted(parents):
        atomic.fsync_dir(parent)
    return moved
