"""Honest state after a monitor died (killed, or the host rebooted): its containers died with it."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from ..errors import BerthError
from ..store.locks import try_lock_path
from ..store.paths import MONITOR_LOCK, StorePaths
from .records import now_rfc3339

if TYPE_CHECKING:
    from ..engine import Engine

__all__ = ["monitor_alive", "monitor_alive_at", "mark_dead", "mark_dead_at", "reconcile", "remove_cgroup"]

# The monitor's death SIGKILLs every container (PR_SET_PDEATHSIG): 128 + 9.
EXIT_KILLED = 137


def monitor_alive(engine: "Engine") -> bool:
    """True while a monitor holds the store's monitor lock."""
    return monitor_alive_at(engine.paths)


def monitor_alive_at(paths: StorePaths) -> bool:
    fd = try_lock_path(paths.monitor_file(MONITOR_LOCK))
    if fd is None:
        return os.path.exists(paths.monitor_file(MONITOR_LOCK))
    os.close(fd)
    return False


def mark_dead_at(paths: StorePaths, cid: str) -> None:
    """``system check --repair``: ``mark_dead`` for a store known only by its paths."""
    from ..engine import Engine

    mark_dead(Engine(paths.root), cid)


def mark_dead(engine: "Engine", cid: str) -> None:
    """Record a container whose monitor is gone as exited, and unmount its root."""
    from .remove import mount_id_of

    def change(config: dict[str, Any]) -> None:
        if config["State"].get("Running"):
            config["State"].update(Status="exited", Running=False, Paused=False, Pid=0, ExitCode=EXIT_KILLED,
                                   Error="the container monitor exited", FinishedAt=now_rfc3339())

    try:
        engine.containers.update(cid, change)
        engine.rwlayers.unmount(mount_id_of(engine, cid))
    except BerthError:
        pass
    remove_cgroup(cid)


def remove_cgroup(cid: str) -> None:
    """Drop the container's (now empty) cgroup dirs, which only its dead monitor would have removed."""
    from ..runtime.cgroups import for_container

    group = for_container(cid)
    if group is not None:
        try:
            group.remove()
        except OSError:
            pass  # still busy: a process outlived the monitor; system check reports the container


def reconcile(engine: "Engine", configs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``configs`` with stale "running" records fixed, when no monitor is alive to own them."""
    stale = [c["ID"] for c in configs if c["State"].get("Running")]
    if not stale or monitor_alive(engine):
        return configs
    for cid in stale:
        mark_dead(engine, cid)
    return [engine.containers.load(c["ID"]) if c["ID"] in stale else c for c in configs]
