"""Restart policies survive the monitor: when it dies (kill -9, reboot), the next one restarts what should run."""

from __future__ import annotations

import os

from engine.containers import CreateOptions
from engine.errors import ContainerNotFound
from tests.engine import containers_fixtures

cengine = containers_fixtures.cengine


def _start(engine, name: str, restart: str = "no", **kw: object) -> tuple[str, int]:  # type: ignore[no-untyped-def]
    kw.setdefault("network", "none")  # policies, not networks: a bridge's restart is the network code's to test
    cid = engine.container_create(CreateOptions(image="busybox", cmd=("sleep", "300"), name=name, restart=restart,
                                                **kw))  # type: ignore[arg-type]
    engine.container_start(cid)
    return cid, int(engine.store.records.load(cid)["State"]["Pid"])


def test_ps_after_a_killed_monitor_restarts_by_policy(cengine) -> None:  # type: ignore[no-untyped-def]
    started = {name: _start(cengine, name, policy) for name, policy in (
        ("alw", "always"), ("nop", "no"), ("uls", "unless-stopped"), ("onf", "on-failure"), ("onf0", "on-failure:1"))}
    stopped, _ = _start(cengine, "stp", "unless-stopped")
    cengine.container_stop(stopped, timeout=1)
    stopped_always, _ = _start(cengine, "alwstp", "always")
    cengine.container_stop(stopped_always, timeout=1)
    gone, _ = _start(cengine, "rmme", auto_remove=True)
    old_monitor = containers_fixtures.monitor_pid(cengine)
    containers_fixtures.stop_monitor(cengine)
    rows = {s.name: s for s in cengine.container_list(all=True)}
    assert set(rows) == {"alw", "nop", "uls", "onf", "onf0", "stp", "alwstp"}  # the --rm one went as it died
    for name in ("alw", "uls", "onf", "onf0"):
        config = cengine.store.records.load(started[name][0])
        pid = int(config["State"]["Pid"])
        assert rows[name].state == "running" and pid != started[name][1], name
        assert os.path.exists(f"/proc/{pid}") and config["RestartCount"] == 1
    assert (rows["nop"].state, rows["nop"].exit_code) == ("exited", 137)
    # its cgroup went too, and nothing was left mounted for it (the fixtures check mounts at teardown)
    assert not [d for d in containers_fixtures.cgroup_dirs(cengine.paths.root, started["nop"][0]) if os.path.exists(d)]
    assert rows["stp"].state == "exited"
    assert rows["alwstp"].state == "running"  # dockerd at start: ``always`` even after a manual stop
    assert containers_fixtures.monitor_pid(cengine) not in (None, old_monitor)
    try:
        cengine.container_inspect(gone)
    except ContainerNotFound:
        pass
    else:
        raise AssertionError("the --rm container outlived its monitor's death")


def test_the_next_monitor_restarts_them_whoever_starts_it(cengine) -> None:  # type: ignore[no-untyped-def]
    cid, pid = _start(cengine, "alw", "always")
    containers_fixtures.stop_monitor(cengine)
    assert cengine.store.records.load(cid)["State"]["Running"]  # the raw record still says so
    _start(cengine, "fresh")  # spawns a monitor, which recovers before it listens
    config = cengine.store.records.load(cid)
    assert config["State"]["Running"] and int(config["State"]["Pid"]) != pid
    cengine.container_stop(cid, timeout=1)
    containers_fixtures.stop_monitor(cengine)
    rows = {s.name: s.state for s in cengine.container_list(all=True)}
    # the monitor's death is dockerd's restart: ``always`` comes back even though the user stopped it
    assert rows == {"alw": "running", "fresh": "exited"}


def test_after_a_reboot_the_first_monitor_brings_back_always(cengine) -> None:  # type: ignore[no-untyped-def]
    from engine.store.paths import MONITOR_BOOT_ID

    cid, _ = _start(cengine, "alw", "always")
    uls, _ = _start(cengine, "uls", "unless-stopped")
    for each in (cid, uls):
        cengine.container_stop(each, timeout=1)
    containers_fixtures.stop_monitor(cengine)
    _start(cengine, "other")  # same boot: a new monitor leaves stopped containers alone
    assert not cengine.store.records.load(cid)["State"]["Running"]
    cengine.container_stop("other", timeout=1)
    containers_fixtures.stop_monitor(cengine)
    with open(cengine.paths.monitor_file(MONITOR_BOOT_ID), "w") as f:
        f.write("00000000-0000-0000-0000-000000000000\n")  # as if recorded before this boot
    _start(cengine, "after-boot")
    assert cengine.store.records.load(cid)["State"]["Running"]
    assert not cengine.store.records.load(uls)["State"]["Running"]  # the user stopped it: it stays down
    with open(cengine.paths.monitor_file(MONITOR_BOOT_ID)) as f, open("/proc/sys/kernel/random/boot_id") as g:
        assert f.read() == g.read()
