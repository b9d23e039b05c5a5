"""cgroups for containers: memory, cpu quota, pids, freezer and devices, on v1 and v2 hierarchies.

A container's cgroup is ``<parent>/berth-<store hash>/<id>`` where ``<parent>``
is the engine's own cgroup in that hierarchy (so berth stays inside whatever
slice the host put it in) and the hash names the store root as its bridge and
NAT table are named (``network.naming``): one store's ``system check`` looks
at its own dir only, never at another store's containers. The container's init
joins it before it unshares its cgroup namespace (``ProcessSpec.cgroup_procs``),
so its view starts at its own cgroup. Hybrid hosts (v1 controllers plus an
empty v2 tree) use v1.
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

__all__ = ["DEVICE_RULES", "GROUP_PREFIX", "Cgroup", "CgroupV1", "CgroupV2", "Limits", "for_container", "store_dirs"]

# Every store's dir starts so: ``nsenter`` finds a container's own cgroups in /proc/<pid>/cgroup by it.
GROUP_PREFIX = "berth-"
# CFS period in µs (Docker's default); a quota of N CPUs is N × this.
CPU_PERIOD_US = 100_000
_NANO = 1_000_000_000
# cpuacct and blkio set no limit: they are joined so ``stats`` can read CPU time and block I/O.
V1_CONTROLLERS = ("memory", "cpu", "pids", "freezer", "devices", "cpuacct", "blkio")
# What a v2 container's limits and ``stats`` need enabled in every ancestor's subtree_control.
V2_CONTROLLERS = ("cpu", "io", "memory", "pids")
# runc's default device allow-list (devices.allow syntax): mknod anything, use only the standard nodes.
DEVICE_RULES = (
    "c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
    "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm", "c 10:200 rwm",
)


@dataclass(frozen=True)
class Limits:
    """What ``-m``, ``--cpus`` and ``--pids-limit`` asked for; 0 means unlimited."""

    memory: int = 0
    nano_cpus: int = 0
    pids: int = 0
    all_devices: bool = False
    """``--privileged``: every device usable, not just runc's default list."""


def _write(path: str, value: str) -> None:
    with open(path, "w", encoding="ascii") as f:
        f.write(value)


def _read(path: str) -> str:
    try:
        with open(path, encoding="ascii") as f:
            return f.read()
    except OSError:
        return ""


# A v1 cgroup stays busy for a moment after its last task is reaped: retry rmdir this long.
_RMDIR_RETRY_SECONDS = 0.5


def _rmdir(path: str) -> None:
    """Remove an empty cgroup dir; give up quietly if it is still busy after a short while."""
    deadline = time.monotonic() + _RMDIR_RETRY_SECONDS
    while True:
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError as err:
            if err.errno != errno.EBUSY:
                raise
            if time.monotonic() > deadline:
                return
            time.sleep(0.005)


class Cgroup:
    """The interface both versions share."""

    def create(self, limits: Limits) -> None:
        raise NotImplementedError

    def procs_files(self) -> tuple[str, ...]:
        raise NotImplementedError

    def freeze(self, frozen: bool) -> None:
        raise NotImplementedError

    def oom_killed(self) -> bool:
        raise NotImplementedError

    def remove(self) -> None:
        raise NotImplementedError

    def read_file(self, controller: str, name: str) -> str:
        """An accounting file's text ("" when absent), for ``stats``; ``controller`` picks the v1 hierarchy."""
        raise NotImplementedError


class CgroupV1(Cgroup):
    """One dir per controller hierarchy: ``{controller: <mount>/<own path>/berth-<store hash>/<id>}``."""

    def __init__(self, dirs: dict[str, str]) -> None:
        self.dirs = dirs

    def create(self, limits: Limits) -> None:
        try:
            for directory in self.dirs.values():
                os.makedirs(directory, exist_ok=True)
            self._limit(limits)
        except BaseException:
            self.remove()
            raise

    def _limit(self, limits: Limits) -> None:
        d = self.dirs
        if limits.memory and "memory" in d:
            _write(os.path.join(d["memory"], "memory.limit_in_bytes"), str(limits.memory))
            swap = os.path.join(d["memory"], "memory.memsw.limit_in_bytes")
            if os.path.exists(swap):  # no swap beyond the limit, so the OOM killer acts at the limit
                _write(swap, str(limits.memory))
        if limits.nano_cpus and "cpu" in d:
            _write(os.path.join(d["cpu"], "cpu.cfs_period_us"), str(CPU_PERIOD_US))
            _write(os.path.join(d["cpu"], "cpu.cfs_quota_us"), str(limits.nano_cpus * CPU_PERIOD_US // _NANO))
        if limits.pids and "pids" in d:
            _write(os.path.join(d["pids"], "pids.max"), str(limits.pids))
        if "devices" in d and limits.all_devices:
            _write(os.path.join(d["devices"], "devices.allow"), "a")
        elif "devices" in d:
            _write(os.path.join(d["devices"], "devices.deny"), "a")
            for rule in DEVICE_RULES:
                _write(os.path.join(d["devices"], "devices.allow"), rule)

    def procs_files(self) -> tuple[str, ...]:
        return tuple(os.path.join(d, "cgroup.procs") for d in self.dirs.values())

    def freeze(self, frozen: bool) -> None:
        _write(os.path.join(self.dirs["freezer"], "freezer.state"), "FROZEN" if frozen else "THAWED")

    def oom_killed(self) -> bool:
        for line in _read(os.path.join(self.dirs.get("memory", "/nonexistent"), "memory.oom_control")).splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip() not in ("", "0"):
                return True
        return False

    def remove(self) -> None:
        for directory in self.dirs.values():
            _rmdir(directory)

    def read_file(self, controller: str, name: str) -> str:
        if controller in self.dirs:
            return _read(os.path.join(self.dirs[controller], name))
        for directory in self.dirs.values():  # co-mounted (cpu,cpuacct): kept under the first name only
            if os.path.exists(os.path.join(directory, name)):
                return _read(os.path.join(directory, name))
        return ""


class CgroupV2(Cgroup):
    """One dir in the unified hierarchy; controllers must be enabled in the parent's subtree_control.

    The store's ``berth-<hash>`` parent sits right under the hierarchy's root, as Docker's
    cgroupfs driver puts ``docker/``: a cgroup that holds processes (the caller's own, say a
    login session's scope) cannot enable controllers for children ("no internal
    processes"), the root can.
    """

    def __init__(self, directory: str, hierarchy_root: str = "") -> None:
        self.dir = directory
        self.hierarchy_root = hierarchy_root or os.path.dirname(os.path.dirname(directory))

    def create(self, limits: Limits) -> None:
        os.makedirs(self.dir, exist_ok=True)
        try:
            self._enable_controllers()
            if limits.memory:
                _write(os.path.join(self.dir, "memory.max"), str(limits.memory))
                _write(os.path.join(self.dir, "memory.swap.max"), "0")
            if limits.nano_cpus:
                _write(os.path.join(self.dir, "cpu.max"),
                       f"{limits.nano_cpus * CPU_PERIOD_US // _NANO} {CPU_PERIOD_US}")
            if limits.pids:
                _write(os.path.join(self.dir, "pids.max"), str(limits.pids))
        except BaseException:
            self.remove()
            raise

    def _enable_controllers(self) -> None:
        """Turn on the limited controllers from the root down to our parent, where the host offers them.

        Already-enabled ones are left alone; one that cannot be enabled shows up as the missing limit file.
        """
        level, parent = self.hierarchy_root, os.path.dirname(self.dir)
        while True:
            offered = _read(os.path.join(level, "cgroup.controllers")).split()
            enabled = _read(os.path.join(level, "cgroup.subtree_control")).split()
            wanted = [c for c in V2_CONTROLLERS if c in offered and c not in enabled]
            if wanted:
                with contextlib.suppress(OSError):
                    _write(os.path.join(level, "cgroup.subtree_control"), " ".join("+" + c for c in wanted))
            if os.path.normpath(level) == os.path.normpath(parent) or not parent.startswith(level):
                return
            level = os.path.join(level, os.path.relpath(parent, level).split(os.sep)[0])

    def procs_files(self) -> tuple[str, ...]:
        return (os.path.join(self.dir, "cgroup.procs"),)

    def freeze(self, frozen: bool) -> None:
        _write(os.path.join(self.dir, "cgroup.freeze"), "1" if frozen else "0")

    def oom_killed(self) -> bool:
        for line in _read(os.path.join(self.dir, "memory.events")).splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip() not in ("", "0"):
                return True
        return False

    def remove(self) -> None:
        _rmdir(self.dir)

    def read_file(self, controller: str, name: str) -> str:
        return _read(os.path.join(self.dir, name))


def _mounts(mountinfo: str) -> Iterator[tuple[str, str, set[str]]]:
    """(mount point, fstype, super options) of every cgroup mount."""
    for line in mountinfo.splitlines():
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(tail) >= 3 and tail[0] in ("cgroup", "cgroup2"):
            yield fields[4], tail[0], set(tail[2].split(","))


def _own_paths(proc_cgroup: str) -> dict[str, str]:
    """controller (or "" for v2) → this process's cgroup path, from /proc/self/cgroup."""
    out = {}
    for line in proc_cgroup.splitlines():
        _, controllers, path = line.split(":", 2)
        for name in controllers.split(",") if controllers else [""]:
            out[name] = path
    return out


def _store_dir_name(root: str) -> str:
    from ..network.naming import cgroup_dir_name

    return cgroup_dir_name(root)


def for_container(cid: str, root: str, mountinfo: str | None = None, proc_cgroup: str | None = None,
                  controllers: Sequence[str] = V1_CONTROLLERS) -> Cgroup | None:
    """The cgroup of container ``cid`` of the store at ``root``: v2 when /sys/fs/cgroup is unified, v1
    otherwise; None if neither."""
    mountinfo = _read("/proc/self/mountinfo") if mountinfo is None else mountinfo
    own = _own_paths(_read("/proc/self/cgroup") if proc_cgroup is None else proc_cgroup)
    mounts = list(_mounts(mountinfo))
    store = _store_dir_name(root)
    for point, fstype, _ in mounts:
        if fstype == "cgroup2" and point == "/sys/fs/cgroup":
            return CgroupV2(os.path.join(point, store, cid), hierarchy_root=point)
    dirs: dict[str, str] = {}
    for point, fstype, options in mounts:
        for name in controllers:
            path = os.path.join(point, own.get(name, "/").lstrip("/"), store, cid)
            if fstype == "cgroup" and name in options and name not in dirs and path not in dirs.values():
                dirs[name] = path
    return CgroupV1(dirs) if dirs else None


def store_dirs(root: str, mountinfo: str | None = None, proc_cgroup: str | None = None) -> list[str]:
    """The store's own cgroup dirs (``…/berth-<hash>``, one per hierarchy), each holding its containers' only."""
    probe = for_container("probe", root, mountinfo, proc_cgroup)
    if isinstance(probe, CgroupV1):
        return sorted({os.path.dirname(d) for d in probe.dirs.values()})
    return [os.path.dirname(probe.dir)] if isinstance(probe, CgroupV2) else []
