"""``stats`` on real containers (this host: cgroup v1), and the v2 and v1 readers on trees of real file contents."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from engine.containers import stats
from engine.errors import ContainerNotFound
from engine.network.naming import cgroup_dir_name
from engine.runtime import cgroups
from tests.engine import containers_fixtures
from tests.engine.containers_fixtures import start_d

MiB = 1024 * 1024

cengine = containers_fixtures.cengine
"""A store with busybox:latest; every container removed afterwards."""


def _two_samples(engine, cid: str, wait: float = 1.0) -> stats.ContainerStats:  # type: ignore[no-untyped-def]
    first = engine.container_stats(cid)
    time.sleep(wait)
    return engine.container_stats(cid, previous=first)  # type: ignore[no-any-return]


def _wait_for(check, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def test_a_cpu_burner_shows_over_20_percent_and_a_stopped_one_zeros(cengine) -> None:  # type: ignore[no-untyped-def]
    cid = start_d(cengine, "sh", "-c", "while :; do :; done", name="burner")
    s = _two_samples(cengine, "burner")
    assert s.running and s.id == cid and s.name == "burner"
    assert s.cpu_percent > 20, s
    assert s.cpu_usage_ns > 0 and s.pids == 1 and s.online_cpus >= 1
    assert cengine.container_stats(cid).cpu_percent == 0.0  # one sample: nothing to measure against
    cengine.container_stop(cid, timeout=0)
    z = cengine.container_stats("burner", previous=s)
    assert (z.running, z.cpu_percent, z.memory_usage, z.memory_limit, z.pids, z.net_rx, z.block_write) == \
        (False, 0.0, 0, 0, 0, 0, 0)


def test_memory_grows_and_the_limit_is_the_containers(cengine) -> None:  # type: ignore[no-untyped-def]
    cid = start_d(cengine, "sh", "-c", "while [ ! -e /go ]; do sleep 0.1; done; "
                  "dd if=/dev/zero bs=1M count=48 2>/dev/null | cat > /dev/shm/x; touch /done; sleep 100",
                  memory=128 * MiB)
    before = cengine.container_stats(cid)
    assert before.memory_limit == 128 * MiB
    assert before.memory_usage < 16 * MiB
    cengine.container_exec(cid, ["touch", "/go"])
    _wait_for(lambda: os.path.exists(os.path.join(cengine.container_inspect(cid)["GraphDriver"]["Data"]["UpperDir"],
                                                  "done")))
    after = cengine.container_stats(cid)
    assert after.memory_usage >= before.memory_usage + 40 * MiB, (before, after)
    assert after.memory_percent == pytest.approx(after.memory_usage / (128 * MiB) * 100)


def test_no_limit_shows_the_hosts_memory(cengine) -> None:  # type: ignore[no-untyped-def]
    cid = start_d(cengine, "sleep", "100")
    with open("/proc/meminfo") as f:
        total = int(f.readline().split()[1]) * 1024
    assert cengine.container_stats(cid).memory_limit == total


def test_pids_count_sleep_children(cengine) -> None:  # type: ignore[no-untyped-def]
    cid = start_d(cengine, "sh", "-c", "sleep 100 & sleep 100 & sleep 100 & wait")
    _wait_for(lambda: cengine.container_stats(cid).pids == 4)
    cengine.container_exec(cid, ["sh", "-c", "sleep 100 &"])
    _wait_for(lambda: cengine.container_stats(cid).pids == 5)


def test_net_io_counts_the_containers_interfaces_but_not_lo(cengine) -> None:  # type: ignore[no-untyped-def]
    """A veth made by the test into the container's netns (network none): host → container bytes show as RX."""
    cid = start_d(cengine, "sleep", "100", network="none")
    pid = cengine.store.records.load(cid)["State"]["Pid"]
    assert cengine.container_stats(cid).net_rx == 0
    host_if, ctr_if = "bst" + uuid.uuid4().hex[:8], "bsc" + uuid.uuid4().hex[:8]
    subnet = f"10.251.{os.getpid() % 250}"
    netns = f"--net=/proc/{pid}/ns/net"
    try:
        subprocess.run(["ip", "link", "add", host_if, "type", "veth", "peer", "name", ctr_if, "netns", str(pid)],
                       check=True)
        inside = f"ip addr add {subnet}.2/30 dev {ctr_if} && ip link set {ctr_if} up && ip link set lo up"
        subprocess.run(["nsenter", netns, "sh", "-c", inside], check=True)
        subprocess.run(["ip", "addr", "add", f"{subnet}.1/30", "dev", host_if], check=True)
        subprocess.run(["ip", "link", "set", host_if, "up"], check=True)
        before = cengine.container_stats(cid)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for _ in range(20):
                sock.sendto(b"x" * 1000, (f"{subnet}.2", 9))
                time.sleep(0.01)
        _wait_for(lambda: cengine.container_stats(cid).net_rx >= before.net_rx + 20 * 1000)
        # Traffic on the container's lo is not network I/O.
        lo_before = cengine.container_stats(cid)
        cengine.container_exec(cid, ["ping", "-c", "3", "-s", "20000", "127.0.0.1"])  # ~120 kB through lo
        lo_after = cengine.container_stats(cid)
        with open(f"/proc/{pid}/net/dev") as f:
            lo_line = next(line for line in f if line.strip().startswith("lo:"))
        assert int(lo_line.split(":")[1].split()[0]) > 100_000
        # The veth may still see a stray IPv6 neighbour packet or two meanwhile; never lo's 120 kB.
        assert lo_after.net_rx - lo_before.net_rx < 10_000
    finally:
        subprocess.run(["ip", "link", "del", host_if], check=False, stderr=subprocess.DEVNULL)


def test_stream_follows_running_containers_and_names_are_checked_first(cengine) -> None:  # type: ignore[no-untyped-def]
    busy = start_d(cengine, "sh", "-c", "while :; do :; done")
    idle = start_d(cengine, "sleep", "100")
    stopped = cengine.container_create(stats_options())
    with pytest.raises(ContainerNotFound, match="No such container: nope"):
        cengine.container_stats_stream(["nope"])
    frames = cengine.container_stats_stream(interval=0.5)
    first = next(frames)
    assert {s.id for s in first} == {busy, idle}
    by_id = {s.id: s for s in next(frames)}
    assert by_id[busy].cpu_percent > 20 and by_id[idle].cpu_percent < 5
    everything = next(cengine.container_stats_stream(all=True, interval=0.2))
    assert {s.id for s in everything} == {busy, idle, stopped}
    assert next(s for s in everything if s.id == stopped).running is False
    cengine.container_remove(idle, force=True)
    assert [s.id for s in next(cengine.container_stats_stream([busy], interval=0.2))] == [busy]


def stats_options():  # type: ignore[no-untyped-def]
    from engine.containers import CreateOptions

    return CreateOptions(image="busybox", cmd=("true",))


def test_v1_cgroup_joins_cpuacct_and_blkio(cengine) -> None:  # type: ignore[no-untyped-def]
    cid = start_d(cengine, "sleep", "100")
    group = cgroups.for_container(cid, cengine.paths.root)
    assert isinstance(group, cgroups.CgroupV1)
    pid = str(cengine.store.records.load(cid)["State"]["Pid"])
    for controller in ("cpuacct", "blkio"):
        assert pid in Path(group.dirs[controller], "cgroup.procs").read_text().split()
    cengine.container_remove(cid, force=True)
    assert not any(os.path.exists(d) for d in group.dirs.values())


# -- the readers on file contents ---------------------------------------------

V2_FILES = {
    # Formats as the kernel writes them (Documentation/admin-guide/cgroup-v2.rst); cpu.stat copied from this host.
    "cpu.stat": "usage_usec 7743961546\nuser_usec 5760163767\nsystem_usec 1983797778\nnice_usec 0\n"
                "nr_periods 0\nnr_throttled 0\nthrottled_usec 0\n",
    "memory.current": "73400320\n",
    "memory.max": "134217728\n",
    "memory.stat": "anon 20971520\nfile 52428800\nkernel 524288\nshmem 0\nfile_mapped 0\nfile_dirty 4096\n"
                   "active_anon 20971520\ninactive_anon 0\nactive_file 41943040\ninactive_file 10485760\n"
                   "unevictable 0\n",
    "io.stat": "254:0 rbytes=4096000 wbytes=8388608 rios=100 wios=8 dbytes=0 dios=0\n"
               "7:0 rbytes=1024 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n",
    "pids.current": "7\n",
}
V1_MEMORY_STAT = ("cache 58314752\nrss 1228800\nshmem 0\nmapped_file 217088\ninactive_anon 1220608\n"
                  "active_anon 8192\ninactive_file 4673536\nactive_file 53641216\n"
                  "hierarchical_memory_limit 9223372036854771712\ntotal_cache 58331136\ntotal_rss 1228800\n"
                  "total_inactive_anon 1220608\ntotal_inactive_file 4677632\ntotal_active_file 53641216\n")
V1_BLKIO = ("8:0 Read 1048576\n8:0 Write 2097152\n8:0 Sync 3145728\n8:0 Async 0\n8:0 Discard 0\n8:0 Total 3145728\n"
            "8:16 Read 4096\n8:16 Write 0\n8:16 Total 4096\nTotal 3149824\n")


def test_v2_readers_on_a_mimic_tree(tmp_path: Path) -> None:
    for name, text in V2_FILES.items():
        (tmp_path / name).write_text(text)
    group = cgroups.CgroupV2(str(tmp_path))
    assert stats.cpu_usage_ns(group) == 7743961546 * 1000
    assert stats.memory_usage(group) == 73400320 - 10485760
    assert stats.memory_limit(group, 8 << 30) == 134217728
    assert stats.block_io(group) == (4096000 + 1024, 8388608)
    assert stats.pids_current(group) == 7
    (tmp_path / "memory.max").write_text("max\n")
    assert stats.memory_limit(group, 8 << 30) == 8 << 30


def test_v1_readers_with_cpu_and_cpuacct_comounted(tmp_path: Path) -> None:
    dirs = {name: tmp_path / name for name in ("memory", "cpu,cpuacct", "blkio", "pids")}
    for d in dirs.values():
        d.mkdir()
    (dirs["memory"] / "memory.usage_in_bytes").write_text("60000000\n")
    (dirs["memory"] / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    (dirs["memory"] / "memory.stat").write_text(V1_MEMORY_STAT)
    (dirs["cpu,cpuacct"] / "cpuacct.usage").write_text("123456789\n")
    (dirs["blkio"] / "blkio.io_service_bytes_recursive").write_text("Total 0\n")
    (dirs["blkio"] / "blkio.throttle.io_service_bytes_recursive").write_text(V1_BLKIO)
    (dirs["pids"] / "pids.current").write_text("3\n")
    group = cgroups.CgroupV1({"memory": str(dirs["memory"]), "cpu": str(dirs["cpu,cpuacct"]),
                              "blkio": str(dirs["blkio"]), "pids": str(dirs["pids"])})
    assert stats.cpu_usage_ns(group) == 123456789
    assert stats.memory_usage(group) == 60000000 - 4677632
    assert stats.memory_limit(group, 8 << 30) == 8 << 30  # v1's "unlimited" → the host's memory
    (dirs["memory"] / "memory.limit_in_bytes").write_text("67108864\n")
    assert stats.memory_limit(group, 8 << 30) == 64 * MiB
    assert stats.block_io(group) == (1048576 + 4096, 2097152)
    assert stats.pids_current(group) == 3


def test_comounted_v1_controllers_share_one_dir() -> None:
    mountinfo = ("41 30 0:36 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
                 "43 30 0:38 / /sys/fs/cgroup/blkio rw - cgroup cgroup rw,blkio\n")
    group = cgroups.for_container("abc", "/s", mountinfo=mountinfo, proc_cgroup="1:cpu,cpuacct:/\n7:blkio:/x\n")
    assert isinstance(group, cgroups.CgroupV1)
    store = cgroup_dir_name("/s")
    assert group.dirs == {"cpu": f"/sys/fs/cgroup/cpu,cpuacct/{store}/abc",
                          "blkio": f"/sys/fs/cgroup/blkio/x/{store}/abc"}


def test_net_dev_parser_skips_lo_and_headers() -> None:
    text = ("Inter-|   Receive                                                |  Transmit\n"
            " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls "
            "carrier compressed\n"
            "    lo:    5000      50    0    0    0     0          0         0     5000      50    0    0    0     0"
            "       0          0\n"
            "  eth0:     176       2    0    0    0     0          0         0      266       3    0    0    0     0"
            "       0          0\n"
            "bst-c0: 1000000     700    0    0    0     0          0         0       42       1    0    0    0     0"
            "       0          0\n")
    assert stats.parse_net_dev(text) == (1000176, 308)


def test_cpu_percent_is_usage_over_wall_time() -> None:
    prev = stats.ContainerStats("a", "n", True, 100.0, 1_000_000_000, 0.0, 2, 0, 0, 0.0, 0, 0, 0, 0, 0)
    assert stats._cpu_percent(2_500_000_000, 101.0, prev) == pytest.approx(150.0)  # 1.5 cores busy
    assert stats._cpu_percent(500_000_000, 101.0, prev) == 0.0  # counter went back: a new cgroup
