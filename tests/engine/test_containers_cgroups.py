"""cgroup limits on real containers (this host: v1 hybrid), and the v2 code against a mimic tree."""

from __future__ import annotations

import os
import time
from pathlib import Path

from engine.network.naming import cgroup_dir_name
from engine.runtime import cgroups
from tests.engine.containers_fixtures import cengine, run, start_d  # noqa: F401


def _cgroup_dirs(root: str, cid: str) -> list[str]:
    group = cgroups.for_container(cid, root)
    assert isinstance(group, cgroups.CgroupV1)
    return list(group.dirs.values())


def test_memory_limit_oom_kill_is_137_and_recorded(cengine) -> None:  # type: ignore[no-untyped-def]
    cid, code, _ = run(cengine, "sh", "-c", "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived",
                       memory=16 * 1024 * 1024)
    assert code == 137
    state = cengine.store.records.load(cid)["State"]
    assert state["OOMKilled"] is True and state["ExitCode"] == 137
    assert not any(os.path.exists(d) for d in _cgroup_dirs(cengine.paths.root, cid))


def test_pids_limit_devices_and_cpu_quota(cengine) -> None:  # type: ignore[no-untyped-def]
    _, code, text = run(cengine, "sh", "-c", "for i in 1 2 3 4 5 6; do sleep 1 & done 2>&1; wait", pids_limit=4)
    assert "can't fork" in text
    _, code, text = run(cengine, "sh", "-c", "mknod /blk b 8 0 && cat /blk", )
    assert code != 0 and "Operation not permitted" in text
    cid = start_d(cengine, "sleep", "100", nano_cpus=500_000_000)
    group = cgroups.for_container(cid, cengine.paths.root)
    assert isinstance(group, cgroups.CgroupV1)
    quota = Path(group.dirs["cpu"], "cpu.cfs_quota_us").read_text().strip()
    assert quota == "50000"
    procs = Path(group.dirs["cpu"], "cgroup.procs").read_text().split()
    assert str(cengine.store.records.load(cid)["State"]["Pid"]) in procs
    cengine.container_remove(cid, force=True)
    assert not any(os.path.exists(d) for d in group.dirs.values())


def test_pause_and_unpause_freeze_the_container(cengine, berth) -> None:  # type: ignore[no-untyped-def]
    cid = start_d(cengine, "sh", "-c", "while true; do echo tick; sleep 0.05; done")
    time.sleep(0.3)
    assert berth("pause", cid[:12]) == (0, cid[:12] + "\n", "")
    assert "(Paused)" in berth("ps")[1]
    assert cengine.store.records.load(cid)["State"]["Status"] == "paused"
    time.sleep(0.1)
    frozen = len(list(cengine.container_logs(cid)))
    time.sleep(0.4)
    assert len(list(cengine.container_logs(cid))) == frozen
    assert berth("unpause", cid[:12])[0] == 0
    time.sleep(0.4)
    assert len(list(cengine.container_logs(cid))) > frozen
    cengine.container_pause(cid)
    cengine.container_stop(cid, timeout=0)  # a paused container still stops
    assert cengine.store.records.load(cid)["State"]["Status"] == "exited"


def test_v2_cgroup_files_in_a_mimic_tree(tmp_path: Path) -> None:
    root = tmp_path / "unified"
    mountinfo = f"30 1 0:26 / {root} rw,relatime - cgroup2 cgroup2 rw\n"
    store = cgroup_dir_name("/var/lib/berth")
    group = cgroups.for_container("abc", "/var/lib/berth", mountinfo=mountinfo.replace(str(root), "/sys/fs/cgroup"),
                                  proc_cgroup="0::/user.slice\n")
    assert isinstance(group, cgroups.CgroupV2)
    # Under the root, not the caller's own (process-holding) cgroup, which could not enable controllers.
    assert group.dir == f"/sys/fs/cgroup/{store}/abc"
    for level in (root, root / store):  # what the kernel shows at each level of the path
        level.mkdir(parents=True, exist_ok=True)
        (level / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    (root / "cgroup.subtree_control").write_text("memory\n")  # one already on: left alone
    (root / store / "cgroup.subtree_control").write_text("")
    group = cgroups.CgroupV2(str(root / store / "abc"), hierarchy_root=str(root))
    group.create(cgroups.Limits(memory=1 << 20, nano_cpus=1_500_000_000, pids=10))
    assert (root / "cgroup.subtree_control").read_text() == "+cpu +io +pids"
    assert (root / store / "cgroup.subtree_control").read_text() == "+cpu +io +memory +pids"
    assert (root / store / "abc" / "memory.max").read_text() == str(1 << 20)
    assert (root / store / "abc" / "cpu.max").read_text() == "150000 100000"
    assert (root / store / "abc" / "pids.max").read_text() == "10"
    assert group.procs_files() == (str(root / store / "abc" / "cgroup.procs"),)
    group.freeze(True)
    assert (root / store / "abc" / "cgroup.freeze").read_text() == "1"
    (root / store / "abc" / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    assert group.oom_killed()
    for name in os.listdir(root / store / "abc"):
        os.unlink(root / store / "abc" / name)  # a real cgroupfs dir has no removable files
    group.remove()
    assert not (root / store / "abc").exists()
    for name in ("cgroup.controllers", "cgroup.subtree_control"):
        os.unlink(root / store / name)


def test_v1_detection_from_mountinfo() -> None:
    mountinfo = ("40 30 0:35 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
                 "41 30 0:36 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
                 "42 30 0:37 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n")
    group = cgroups.for_container("abc", "/s", mountinfo=mountinfo,
                                  proc_cgroup="4:memory:/slice\n1:cpu,cpuacct:/\n0::/\n")
    assert isinstance(group, cgroups.CgroupV1)
    store = cgroup_dir_name("/s")
    assert group.dirs == {"memory": f"/sys/fs/cgroup/memory/slice/{store}/abc",
                          "cpu": f"/sys/fs/cgroup/cpu,cpuacct/{store}/abc"}
