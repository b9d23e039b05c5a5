"""Honest state after the store's keeper died (killed, or the host rebooted): its containers died with it.

A monitor's death alone kills nothing (the keeper holds the containers and starts
another monitor, see ``keeper``); the keeper's death, like a reboot, frees
``monitor.lock`` and takes every container with it. What happens next is dockerd's
rule for its own start: the next monitor marks them exited and starts again those
whose restart policy says so (``reconcile`` starts that monitor when a berth command
finds the dead one's records).
"""

from __future__ import annotations

import json
import os
import select
from typing import TYPE_CHECKING, Any

from ..errors import BerthError, StoreFull
from ..store import atomic
from ..store.locks import try_lock_path
from ..store.paths import MONITOR_BOOT_ID, MONITOR_LOCK, StorePaths
from .records import now_rfc3339

if TYPE_CHECKING:
    from ..context import StoreContext

__all__ = [
    "daemon_start_candidates",
    "journal_death",
    "mark_dead",
    "mark_dead_at",
    "monitor_alive",
    "monitor_alive_at",
    "rebooted",
    "reconcile",
    "record_boot",
    "remove_cgroup",
    "restarts_at_daemon_start",
    "should_restart",
]

# The keeper's death SIGKILLs every container (PR_SET_PDEATHSIG): 128 + 9.
EXIT_KILLED = 137
# How long a dead monitor's container may take to finish dying (normally a few milliseconds).
_DEATH_WAIT_SECONDS = 5.0
# proc(5): a random UUID the kernel picks at every boot.
BOOT_ID_PATH = "/proc/sys/kernel/random/boot_id"


def monitor_alive(store: StoreContext) -> bool:
    """True while a keeper (and so a monitor, or one about to start) holds the store's monitor lock."""
    return monitor_alive_at(store.paths)


def monitor_alive_at(paths: StorePaths) -> bool:
    fd = try_lock_path(paths.monitor_file(MONITOR_LOCK))
    if fd is None:
        return os.path.exists(paths.monitor_file(MONITOR_LOCK))
    os.close(fd)
    return False


def mark_dead_at(paths: StorePaths, cid: str) -> None:
    """``system check --repair``: ``mark_dead`` for a store known only by its paths."""
    from ..context import StoreContext

    store = StoreContext(paths.root)
    if mark_dead(store, cid):
        journal_death(store, cid)


def mark_dead(store: StoreContext, cid: str) -> bool:
    """Record a container whose monitor is gone as exited, and unmount its root.

    Returns:
        Whether this call changed the record (it said running): the caller appends the ``die`` event.
    """
    from .remove import mount_id_of

    pids = []

    def change(config: dict[str, Any]) -> None:
        if config["State"].get("Running"):
            pids.append(int(config["State"].get("Pid") or 0))
            config["State"].update(Status="exited", Running=False, Paused=False, Pid=0, ExitCode=EXIT_KILLED,
                                   Error="the container monitor exited", FinishedAt=now_rfc3339())
            from ..network.endpoint import clear_runtime_settings

            clear_runtime_settings(config)  # no sandbox, no published ports any more

    full: StoreFull | None = None
    try:
        try:
            store.records.update(cid, change)
        except StoreFull as err:
            full = err  # the record stays "running" until there is room; its mounts go all the same
        for pid in pids:
            _wait_gone(pid)
        store.rwlayers.unmount(mount_id_of(store, cid))
    except BerthError:
        pass
    remove_cgroup(store.paths.root, cid)
    from ..network.endpoint import detach

    detach(store.paths.root, cid)  # its init is dead, so the namespace and veths go with the mount
    if full is not None:
        raise full
    return bool(pids)


def journal_death(store: StoreContext, cid: str) -> None:
    """The ``die`` event of a container found dead without its monitor; a read (``ps``) never fails on it."""
    try:
        store.journal.append("container", "die", cid, store.container_label(cid))
    except OSError:
        pass


def _wait_gone(pid: int) -> None:
    """Give the SIGKILL of a monitor's death time to land: the init's exit waits for its whole pid namespace,
    and until then its cgroup cannot be removed nor its root unmounted (a restart would find both busy)."""
    if pid <= 0:
        return
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        return  # already gone (and reaped)
    try:
        poller = select.poll()  # not select(): the monitor's fd numbers may be above 1024
        poller.register(pidfd, select.POLLIN)
        poller.poll(_DEATH_WAIT_SECONDS * 1000)
    finally:
        os.close(pidfd)


def remove_cgroup(root: str, cid: str) -> None:
    """Drop the container's (now empty) cgroup dirs, which only its dead monitor would have removed."""
    from ..runtime.cgroups import for_container

    group = for_container(cid, root)
    if group is not None:
        try:
            group.remove()
        except OSError:
            pass  # still busy: a process outlived the monitor; system check reports the container


def should_restart(config: dict[str, Any], host: dict[str, Any], code: int) -> bool:
    """Whether the restart policy starts the container again after it exited with ``code``."""
    policy = host.get("RestartPolicy") or {}
    name, limit = policy.get("Name", "no"), int(policy.get("MaximumRetryCount") or 0)
    if config.get("HasBeenManuallyStopped") or name in ("", "no"):
        return False
    if name == "on-failure":
        return code != 0 and (not limit or config.get("RestartCount", 0) < limit)
    return True


def restarts_at_daemon_start(config: dict[str, Any], host: dict[str, Any]) -> bool:
    """dockerd's rule when it starts, for a container that is not running: ``always`` comes back even after
    a manual stop, ``unless-stopped`` unless the user stopped it; a never-started container stays created."""
    if config["State"].get("Running") or not config.get("HasBeenStartedBefore"):
        return False
    name = (host.get("RestartPolicy") or {}).get("Name", "no")
    return name == "always" or (name == "unless-stopped" and not config.get("HasBeenManuallyStopped"))


def daemon_start_candidates(store: StoreContext, skip: set[str]) -> list[str]:
    """IDs (not in ``skip``) that ``restarts_at_daemon_start`` brings back."""
    found = []
    for config in store.records.all():
        if config["ID"] in skip:
            continue
        try:
            host = store.records.load_host(config["ID"])
        except BerthError:
            continue
        if restarts_at_daemon_start(config, host):
            found.append(config["ID"])
    return found


def _boot_id() -> str:
    try:
        with open(BOOT_ID_PATH, encoding="ascii") as f:
            return f.read().strip()
    except OSError:
        return ""


def _recorded_boot(paths: StorePaths) -> str:
    try:
        with open(paths.monitor_file(MONITOR_BOOT_ID), encoding="ascii") as f:
            return f.read().strip()
    except OSError:
        return ""


def rebooted(paths: StorePaths) -> bool:
    """The host booted again since a monitor last ran here (a missing record says nothing)."""
    recorded = _recorded_boot(paths)
    return bool(recorded) and recorded != _boot_id()


def record_boot(paths: StorePaths) -> None:
    """Remember this boot, so the next monitor can tell a reboot from an idle exit."""
    current = _boot_id()
    if current and current != _recorded_boot(paths):
        atomic.write_file(paths.monitor_file(MONITOR_BOOT_ID), current + "\n", 0o600)


def _restart_wanted(store: StoreContext, cid: str) -> bool:
    """A stale running record whose policy brings it back (or whose ``--rm`` removes it) once recovered."""
    try:
        config, host = store.records.load(cid), store.records.load_host(cid)
    except BerthError:
        return False
    return bool(host.get("AutoRemove")) or should_restart(config, host, EXIT_KILLED)


def _holding_locks(store: StoreContext, cids: list[str]) -> bool:
    """True if this process holds a lock the new monitor's recovery needs (then only mark them exited)."""
    from ..store.locks import get_lock

    return store.lock.held or any(get_lock(store.paths.container_lock(cid)).held for cid in cids)


def _wake_monitor(store: StoreContext) -> None:
    """Start a monitor and wait until it listens: it recovers the dead one's containers before it does."""
    from .client import MonitorClient

    MonitorClient(store).connect().close()


def reconcile(store: StoreContext, configs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``configs`` with stale "running" records fixed, when no monitor is alive to own them.

    Marking them exited is enough unless a restart policy (or ``--rm``) has work to do: then a new
    monitor is started, whose ``recover`` marks them exited and applies the policies, as dockerd
    does at start; ``ps`` then shows the restarted containers ``Up`` with a new pid.
    """
    stale = [c["ID"] for c in configs if c["State"].get("Running")]
    if not stale or monitor_alive(store):
        return configs
    work = any(_restart_wanted(store, cid) for cid in stale) or daemon_start_candidates(store, set(stale))
    if work and not _holding_locks(store, stale):
        _wake_monitor(store)
        changed = {c["ID"] for c in configs}  # it may have started stopped ``always`` ones too
    else:
        unsaved = set()
        for cid in stale:
            try:
                if mark_dead(store, cid):
                    journal_death(store, cid)
            except StoreFull:
                unsaved.add(cid)  # a read must not need a write: show it exited, record it when there is room
        changed = set(stale) - unsaved
        configs = [_dead_copy(c) if c["ID"] in unsaved else c for c in configs]
    return [c for c in (_reload(store, c) if c["ID"] in changed else c for c in configs) if c is not None]


def _dead_copy(config: dict[str, Any]) -> dict[str, Any]:
    """What ``mark_dead`` would have recorded, in memory only."""
    from ..network.endpoint import clear_runtime_settings

    out = json.loads(json.dumps(config))
    out["State"].update(Status="exited", Running=False, Paused=False, Pid=0, ExitCode=EXIT_KILLED,
                        Error="the container monitor exited", FinishedAt=now_rfc3339())
    clear_runtime_settings(out)
    return out


def _reload(store: StoreContext, config: dict[str, Any]) -> dict[str, Any] | None:
    """The record as it is now; None once ``--rm`` removed the container."""
    try:
        return store.records.load(config["ID"])
    except BerthError:
        return None
