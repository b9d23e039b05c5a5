"""A full disk never stops the monitor: log lines are dropped (and counted), nothing else dies.

On a real 64 MB ext4 loop filesystem used as the store root: a container logging fast
fills it; the monitor and another container keep running; once space is freed, new
lines are written again, after one line saying how many were dropped.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine import containers_fixtures
from tests.engine.containers_fixtures import start_d
from tests.engine.test_monitor_faults import alive, log_text, monitor_pid, wait_for


@pytest.fixture
def small_disk_engine(tmp_path: Path) -> Iterator[object]:
    if not shutil.which("mkfs.ext4"):
        pytest.skip("needs mkfs.ext4 (e2fsprogs)")
    image, mnt = tmp_path / "disk.img", tmp_path / "disk"
    mnt.mkdir()
    with open(image, "wb") as f:
        f.truncate(64 << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True)
    subprocess.run(["mount", "-o", "loop", str(image), str(mnt)], check=True)
    from engine import Engine

    engine = Engine(str(mnt / "store"))
    try:
        engine.image_bootstrap("busybox:latest")
        yield engine
    finally:
        try:
            containers_fixtures.stop_monitor(engine)  # its containers die with the keeper: nothing writes now
            logs = engine.paths.root + "/containers"
            for cid in os.listdir(logs) if os.path.isdir(logs) else []:
                if os.path.exists(engine.paths.container_log(cid)):
                    os.unlink(engine.paths.container_log(cid))  # room for rm's record writes
            containers_fixtures.clean_containers(engine)
        finally:
            subprocess.run(["umount", str(mnt)], check=False)


def _full(path: str) -> bool:
    """True when not even 64 KiB more fit (statvfs counts blocks the filesystem keeps for itself)."""
    probe = os.path.join(path, "probe")
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError:
        return True
    try:
        os.write(fd, b"\0" * (64 << 10))
        os.fsync(fd)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)
        os.unlink(probe)


def _free_bytes(path: str) -> int:
    st = os.statvfs(path)
    return st.f_bfree * st.f_frsize


def test_a_full_disk_drops_log_lines_and_stops_nothing(small_disk_engine) -> None:  # type: ignore[no-untyped-def]
    engine = small_disk_engine
    steady = start_d(engine, "sh", "-c", "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.1; done",
                     network="none")
    monitor = wait_for(lambda: monitor_pid(engine), what="a monitor")
    flood = start_d(engine, "sh", "-c", "x=$(head -c 2000 /dev/zero | tr '\\0' x); while true; do echo $x; done",
                    network="none")
    flood_pid = int(engine.store.records.load(flood)["State"]["Pid"])
    wait_for(lambda: _full(engine.root), timeout=120, what="the disk to fill")
    time.sleep(1.0)  # lines keep coming and keep failing
    assert monitor_pid(engine) == monitor, "the monitor died of a full disk"
    steady_pid = int(engine.store.records.load(steady)["State"]["Pid"])
    assert alive(steady_pid) and alive(flood_pid)
    # Free the space: the flooder goes (its record may have to wait for room), then its log.
    os.kill(flood_pid, signal.SIGKILL)
    wait_for(lambda: not alive(flood_pid), what="the flooder's death")
    log = engine.paths.container_log(flood)
    time.sleep(0.5)  # the monitor closes the dead container's log
    os.unlink(log)
    wait_for(lambda: _free_bytes(engine.root) > 16 << 20, what="space back")
    wait_for(lambda: not engine.store.records.load(flood)["State"]["Running"], what="the flooder's exit recorded")
    before = log_text(engine, steady).count("tick")
    text = wait_for(lambda: (t := log_text(engine, steady)).count("tick") > before + 3 and t, what="new lines")
    assert isinstance(text, str) and "log line(s) dropped" in text
    assert monitor_pid(engine) == monitor and alive(steady_pid)
    assert engine.store.records.load(steady)["State"]["Running"]
