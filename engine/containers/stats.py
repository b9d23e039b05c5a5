"""``stats``: CPU, memory, block I/O and pids from a container's cgroup, network bytes from its netns.

Every figure is read from the kernel at the moment of the sample; CPU % needs
two samples (CPU time used between them over the wall time between them, so
one busy core is 100 % and N busy cores N × 100 %, as Docker shows it).
Parsers take file text, so the cgroup version this host lacks is tested on
fixtures of real files.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ContainerNotFound
from ..runtime.cgroups import Cgroup, CgroupV2, for_container

if TYPE_CHECKING:
    from ..context import StoreContext

__all__ = [
    "ContainerStats",
    "block_io",
    "cpu_usage_ns",
    "memory_limit",
    "memory_usage",
    "parse_blkio",
    "parse_flat_keyed",
    "parse_io_stat",
    "parse_net_dev",
    "pids_current",
    "sample",
    "stream",
]

_V1_UNLIMITED = 1 << 62
"""v1 reports "no limit" as a page-rounded 2^63-1; anything this big is no limit."""
_BLKIO_FILES = ("blkio.io_service_bytes_recursive", "blkio.bfq.io_service_bytes_recursive",
                "blkio.throttle.io_service_bytes_recursive")
"""The CFQ (or BFQ) scheduler's count first; without either only the throttle one is filled (as containerd reads)."""


@dataclass(frozen=True)
class ContainerStats:
    """One sample of one container; a container that is not running has zeros everywhere."""

    id: str
    name: str
    running: bool
    read_at: float
    """time.monotonic() of the sample."""
    cpu_usage_ns: int
    """CPU time the cgroup used since it was made."""
    cpu_percent: float
    """Over the interval since the previous sample (0.0 without one)."""
    online_cpus: int
    memory_usage: int
    """Bytes, page cache that could be dropped (inactive_file) left out, as Docker does."""
    memory_limit: int
    """The cgroup's limit, or the host's memory when there is none."""
    memory_percent: float
    net_rx: int
    net_tx: int
    block_read: int
    block_write: int
    pids: int


# -- parsers ---------------------------------------------------------------


def parse_flat_keyed(text: str) -> dict[str, int]:
    """``key value`` lines (memory.stat, cpu.stat, memory.events) → {key: value}."""
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if value.strip().lstrip("-").isdigit():
            out[key] = int(value)
    return out


def parse_io_stat(text: str) -> tuple[int, int]:
    """v2 io.stat (``8:0 rbytes=1 wbytes=2 rios=…``): (bytes read, bytes written) over every device."""
    read = written = 0
    for line in text.splitlines():
        for field in line.split()[1:]:
            key, _, value = field.partition("=")
            if key == "rbytes" and value.isdigit():
                read += int(value)
            elif key == "wbytes" and value.isdigit():
                written += int(value)
    return read, written


def parse_blkio(text: str) -> tuple[int, int]:
    """v1 blkio ``8:0 Read 4096`` lines: (bytes read, bytes written); the ``Total`` lines are skipped."""
    read = written = 0
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[2].isdigit():
            if fields[1].lower() == "read":
                read += int(fields[2])
            elif fields[1].lower() == "write":
                written += int(fields[2])
    return read, written


def parse_net_dev(text: str) -> tuple[int, int]:
    """/proc/PID/net/dev: (bytes received, bytes sent) summed over every interface but ``lo``."""
    rx = tx = 0
    for line in text.splitlines()[2:]:
        name, _, counters = line.partition(":")
        fields = counters.split()
        if name.strip() == "lo" or len(fields) < 9:
            continue
        rx += int(fields[0])
        tx += int(fields[8])
    return rx, tx


def _int(text: str) -> int:
    text = text.strip()
    return int(text) if text.isdigit() else 0


# -- cgroup readers ----------------------------------------------------------


def cpu_usage_ns(group: Cgroup) -> int:
    """Total CPU time: v2 cpu.stat usage_usec, v1 cpuacct.usage (already ns)."""
    if isinstance(group, CgroupV2):
        return parse_flat_keyed(group.read_file("cpu", "cpu.stat")).get("usage_usec", 0) * 1000
    return _int(group.read_file("cpuacct", "cpuacct.usage"))


def memory_usage(group: Cgroup) -> int:
    """Usage without inactive file cache: Docker's "MEM USAGE" on either version."""
    if isinstance(group, CgroupV2):
        usage, inactive = _int(group.read_file("memory", "memory.current")), "inactive_file"
    else:
        usage, inactive = _int(group.read_file("memory", "memory.usage_in_bytes")), "total_inactive_file"
    cache = parse_flat_keyed(group.read_file("memory", "memory.stat")).get(inactive, 0)
    return usage - cache if cache < usage else usage


def memory_limit(group: Cgroup, host_memory: int) -> int:
    """The cgroup's memory limit, capped at the host's memory (so "no limit" shows the host's size)."""
    if isinstance(group, CgroupV2):
        text = group.read_file("memory", "memory.max").strip()
        limit = int(text) if text.isdigit() else 0
    else:
        limit = _int(group.read_file("memory", "memory.limit_in_bytes"))
        limit = 0 if limit >= _V1_UNLIMITED else limit
    return min(limit, host_memory) if limit and host_memory else (limit or host_memory)


def block_io(group: Cgroup) -> tuple[int, int]:
    """(bytes read, bytes written) by the cgroup's processes from block devices."""
    if isinstance(group, CgroupV2):
        return parse_io_stat(group.read_file("io", "io.stat"))
    for name in _BLKIO_FILES:
        counts = parse_blkio(group.read_file("blkio", name))
        if counts != (0, 0):
            return counts
    return 0, 0


def pids_current(group: Cgroup) -> int:
    return _int(group.read_file("pids", "pids.current"))


def _host_memory() -> int:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def _online_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except OSError:
        return os.cpu_count() or 1


def _net_io(pid: int) -> tuple[int, int]:
    try:
        with open(f"/proc/{pid}/net/dev", encoding="ascii") as f:
            return parse_net_dev(f.read())
    except (OSError, ValueError):
        return 0, 0  # exited between the state check and this read


# -- samples -----------------------------------------------------------------


def _zeros(cid: str, name: str) -> ContainerStats:
    return ContainerStats(cid, name, False, time.monotonic(), 0, 0.0, _online_cpus(), 0, 0, 0.0, 0, 0, 0, 0, 0)


def _cpu_percent(usage: int, now: float, previous: ContainerStats | None) -> float:
    if previous is None or not previous.running or now <= previous.read_at or usage < previous.cpu_usage_ns:
        return 0.0
    return (usage - previous.cpu_usage_ns) / ((now - previous.read_at) * 1e9) * 100.0


def sample_config(root: str, config: dict[str, Any], host: dict[str, Any],
                  previous: ContainerStats | None = None) -> ContainerStats:
    """A sample of the container its records (config.v2.json, hostconfig.json) in the store at ``root`` describe."""
    cid, name = config["ID"], str(config.get("Name", "")).lstrip("/")
    state = config["State"]
    group = for_container(cid, root) if state.get("Running") and state.get("Pid") else None
    if group is None:
        return _zeros(cid, name)
    now = time.monotonic()
    usage = cpu_usage_ns(group)
    mem, limit = memory_usage(group), memory_limit(group, _host_memory())
    host_net = host.get("NetworkMode") == "host"
    rx, tx = (0, 0) if host_net else _net_io(int(state["Pid"]))  # host mode: the host's counters, not its own
    read, written = block_io(group)
    return ContainerStats(cid, name, True, now, usage, _cpu_percent(usage, now, previous), _online_cpus(), mem,
                          limit, mem / limit * 100.0 if limit else 0.0, rx, tx, read, written, pids_current(group))


def sample(store: StoreContext, cid: str, previous: ContainerStats | None = None) -> ContainerStats:
    """One sample of container ``cid``; CPU % is measured since ``previous`` (0.0 without it)."""
    from .lifecycle import current

    config = current(store, cid)
    return sample_config(store.paths.root, config,
                         store.records.load_host(cid) if config["State"].get("Running") else {}, previous)


def _targets(store: StoreContext, ids: list[str] | None, all: bool) -> list[str]:
    if ids is not None:
        return ids
    from .listing import list_containers

    return [c.id for c in list_containers(store, all=all)]


def stream(store: StoreContext, ids: list[str] | None, *, all: bool = False, interval: float = 1.0,
           cancel: threading.Event | None = None) -> Iterator[list[ContainerStats]]:
    """A list of samples every ``interval`` seconds, each with CPU % over the last interval.

    ``ids`` None follows the store: running containers (every one with ``all``), listed again each round.
    A container removed meanwhile drops out. Ends when ``cancel`` is set.
    """
    cancel = cancel or threading.Event()
    previous: dict[str, ContainerStats] = {}
    for cid in _targets(store, ids, all):
        try:
            previous[cid] = sample(store, cid)
        except ContainerNotFound:
            pass
    while not cancel.wait(interval):
        samples = []
        for cid in _targets(store, ids, all):
            try:
                samples.append(sample(store, cid, previous.get(cid)))
            except ContainerNotFound:
                continue
        previous = {s.id: s for s in samples}
        yield samples
