"""The monitor is no single point of failure: kill -9 of it kills no container and loses no output.

The keeper (the containers' subreaper, holder of their pipes) starts a new monitor by
itself; these tests never type a berth command to make that happen. Where a test needs
"no monitor at all for a while" it stops the keeper (SIGSTOP) so it cannot start one yet.
"""

from __future__ import annotations

import os
import resource
import signal
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from engine.containers import CreateOptions
from tests.engine import containers_fixtures
from tests.engine.containers_fixtures import start_d

cengine = containers_fixtures.cengine


def wait_for(check: Callable[[], object], timeout: float = 20, what: str = "") -> object:
    """Poll ``check`` until it is truthy (a generous bound: this is a wait, not a timing assert)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what or check}"
        time.sleep(0.02)


def keeper_pid(engine) -> int:  # type: ignore[no-untyped-def]
    pid = containers_fixtures.monitor_pid(engine)
    assert pid and os.path.exists(f"/proc/{pid}")
    return pid


def monitor_pid(engine) -> int | None:  # type: ignore[no-untyped-def]
    """The keeper's monitor child, read from /proc (asking it over the socket could start one)."""
    keeper = keeper_pid(engine)
    try:
        with open(f"/proc/{keeper}/task/{keeper}/children", encoding="ascii") as f:
            children = [int(p) for p in f.read().split()]
    except OSError:
        return None
    for pid in children:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
            with open(f"/proc/{pid}/stat", encoding="ascii") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if b"engine.containers.monitor" in cmdline and state != "Z" and _listening(engine):
            return pid
    return None


def _listening(engine) -> bool:  # type: ignore[no-untyped-def]
    return os.path.exists(engine.paths.monitor_file("monitor.sock"))


def kill_monitor(engine) -> int:  # type: ignore[no-untyped-def]
    """kill -9 the monitor; its pid."""
    pid = wait_for(lambda: monitor_pid(engine), what="a monitor")
    assert isinstance(pid, int)
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: _is_zombie(pid) and _threads(pid) <= {str(pid)}, what="the monitor's death")
    return pid


def _threads(pid: int) -> set[str]:
    """A zombie leader's files (its port listeners) close only once its last thread is gone too."""
    try:
        return set(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return set()


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


@contextmanager
def keeper_stopped(engine) -> Iterator[int]:  # type: ignore[no-untyped-def]
    """The keeper frozen (it can neither reap nor start a monitor) until the block ends."""
    pid = keeper_pid(engine)
    os.kill(pid, signal.SIGSTOP)
    try:
        yield pid
    finally:
        os.kill(pid, signal.SIGCONT)


def alive(pid: int) -> bool:
    return os.path.exists(f"/proc/{pid}") and not _is_zombie(pid)


def trigger(engine, cid: str, name: str = "go") -> None:  # type: ignore[no-untyped-def]
    """Create /NAME in the container's root from the host: the container's cue to act."""
    merged = engine.container_inspect(cid)["GraphDriver"]["Data"]["MergedDir"]
    with open(os.path.join(merged, name), "w"):
        pass


def log_text(engine, cid: str) -> str:  # type: ignore[no-untyped-def]
    return "".join(e.log for e in engine.container_logs(cid))


WAIT_THEN = "echo start; while [ ! -e /{cue} ]; do sleep 0.05; done; {then}"


def test_kill_9_of_the_monitor_kills_no_container_and_loses_no_output(cengine) -> None:  # type: ignore[no-untyped-def]
    # 20,000 lines (~110 KB) are more than a pipe holds: the writer blocks, and must not die (EPIPE) meanwhile.
    cid = start_d(cengine, "sh", "-c", WAIT_THEN.format(cue="go", then="seq 1 20000; sleep 300"), network="none")
    other = start_d(cengine, "sleep", "300", network="none")
    pids = {c: int(cengine.store.records.load(c)["State"]["Pid"]) for c in (cid, other)}
    wait_for(lambda: "start" in log_text(cengine, cid), what="the first line")
    with keeper_stopped(cengine):
        old = kill_monitor(cengine)
        trigger(cengine, cid)  # written while no monitor exists at all
        time.sleep(0.5)
        assert all(alive(pid) for pid in pids.values())
    new = wait_for(lambda: monitor_pid(cengine), what="a new monitor started by the keeper alone")
    assert new != old
    lines = wait_for(lambda: (t := log_text(cengine, cid)).count("\n") == 20001 and t, what="every line logged")
    assert lines == "start\n" + "".join(f"{i}\n" for i in range(1, 20001))
    for c, pid in pids.items():
        state = cengine.store.records.load(c)["State"]
        assert state["Running"] and state["Pid"] == pid and alive(pid)
    cengine.container_stop(other, timeout=1)
    assert cengine.container_inspect(other)["State"]["ExitCode"] == 137  # the new monitor saw it die


def test_exits_meanwhile_are_recorded_and_policies_act_with_no_command(cengine) -> None:  # type: ignore[no-untyped-def]
    three = start_d(cengine, "sh", "-c", WAIT_THEN.format(cue="go", then="exit 3"), network="none")
    again = start_d(cengine, "sh", "-c", WAIT_THEN.format(cue="go", then="exit 1"), network="none",
                    restart="on-failure")
    for c in (three, again):
        wait_for(lambda c=c: "start" in log_text(cengine, c), what="the first line")
    with keeper_stopped(cengine):
        kill_monitor(cengine)
    wait_for(lambda: monitor_pid(cengine), what="a new monitor")
    for c in (three, again):
        trigger(cengine, c)
    wait_for(lambda: not cengine.store.records.load(three)["State"]["Running"], what="the exit recorded")
    assert cengine.store.records.load(three)["State"]["ExitCode"] == 3
    # on-failure restarted it, with nobody asking: the new monitor applies policies as the old one did
    wait_for(lambda: cengine.store.records.load(again).get("RestartCount", 0) >= 1, what="a restart")
    # and a container that exits while no monitor runs at all is recorded once one is back
    late = start_d(cengine, "sh", "-c", WAIT_THEN.format(cue="go", then="echo bye; exit 7"), network="none")
    wait_for(lambda: "start" in log_text(cengine, late), what="the first line")
    with keeper_stopped(cengine):
        kill_monitor(cengine)
        trigger(cengine, late)
        time.sleep(0.3)
    wait_for(lambda: not cengine.store.records.load(late)["State"]["Running"], what="the late exit recorded")
    assert cengine.store.records.load(late)["State"]["ExitCode"] == 7
    assert log_text(cengine, late) == "start\nbye\n"


def test_a_tty_container_keeps_its_terminal_across_a_monitor_death(cengine) -> None:  # type: ignore[no-untyped-def]
    cid = cengine.container_create(CreateOptions(
        image="busybox", tty=True, network="none",
        cmd=("sh", "-c", WAIT_THEN.format(cue="go", then="echo two; tty; sleep 300"))))
    cengine.container_start(cid)
    pid = int(cengine.store.records.load(cid)["State"]["Pid"])
    wait_for(lambda: "start" in log_text(cengine, cid), what="the first line")
    kill_monitor(cengine)
    wait_for(lambda: monitor_pid(cengine), what="a new monitor")
    trigger(cengine, cid)
    text = wait_for(lambda: (t := log_text(cengine, cid)).count("\n") >= 3 and t, what="output after the restart")
    assert isinstance(text, str) and "two" in text and "/dev/pts/" in text
    assert alive(pid) and cengine.store.records.load(cid)["State"]["Pid"] == pid


def test_the_keepers_death_still_leaves_honest_records(cengine) -> None:  # type: ignore[no-untyped-def]
    """The keeper is the last line: when it dies its containers die too (as at a reboot) and are marked exited."""
    cid = start_d(cengine, "sleep", "300", network="none")
    pid = int(cengine.store.records.load(cid)["State"]["Pid"])
    containers_fixtures.stop_monitor(cengine)  # kills the lock holder: the keeper
    wait_for(lambda: not alive(pid), what="the container's death")
    assert cengine.container_inspect(cid)["State"]["ExitCode"] == 137


def test_restart_delay_is_dockers() -> None:
    from engine.containers.monitor import RESTART_DELAY_FIRST, restart_delay

    delays, delay = [], 0.0
    for _ in range(7):
        delay = restart_delay(delay, 0.01)
        delays.append(delay)
    assert delays == [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4]
    assert restart_delay(6.4, 10.0) == RESTART_DELAY_FIRST  # a run of 10 s resets it
    assert restart_delay(50.0, 0.0) == 60.0


def test_restart_always_false_backs_off(cengine) -> None:  # type: ignore[no-untyped-def]
    cid = start_d(cengine, "false", network="none", restart="always")
    time.sleep(2.0)
    count = cengine.store.records.load(cid).get("RestartCount", 0)
    # Docker's delays: 0.1 + 0.2 + 0.4 + 0.8 s, so 4 by 1.5 s and the 5th at 3.1 s; without backoff, dozens.
    assert 2 <= count <= 6, count


def test_forty_containers_under_a_soft_fd_limit_of_64(cengine) -> None:  # type: ignore[no-untyped-def]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1024:
        pytest.skip(f"the hard fd limit ({hard}) is too low to show the soft one being raised")
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))
    try:
        first = start_d(cengine, "sleep", "300", network="none")  # the keeper and monitor start under 64
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    with open(f"/proc/{keeper_pid(cengine)}/limits", encoding="ascii") as f:
        assert [ln for ln in f if ln.startswith("Max open files")][0].split()[3] == str(hard)
    cids = [first] + [start_d(cengine, "sleep", "300", network="none") for _ in range(39)]
    running = [c for c in cids if cengine.store.records.load(c)["State"]["Running"]]
    assert len(running) == 40
    assert all(alive(int(cengine.store.records.load(c)["State"]["Pid"])) for c in cids)


def test_published_ports_come_back_with_the_new_monitor(cengine) -> None:  # type: ignore[no-untyped-def]
    from tests.engine.test_network import HTTPD, _fetch

    cid = start_d(cengine, "sh", "-c", HTTPD.format(port=80), network="bridge", publish=("127.0.0.1::80",))
    try:
        port = cengine.container_ports(cid)["80/tcp"][0]["HostPort"]
        url = f"http://127.0.0.1:{port}/"
        assert _fetch(url) == f"served-by-{cid[:12]}\n"
        with keeper_stopped(cengine):
            kill_monitor(cengine)
            with socket.socket() as probe:  # nobody listens while no monitor runs
                assert probe.connect_ex(("127.0.0.1", int(port))) != 0
        wait_for(lambda: monitor_pid(cengine), what="a new monitor")
        assert _fetch(url) == f"served-by-{cid[:12]}\n"
    finally:
        containers_fixtures.clean_containers(cengine)
        cengine.network_teardown()


def test_a_busy_main_loop_never_stops_output_draining(cengine) -> None:  # type: ignore[no-untyped-def]
    """While the monitor waits on a slow start (here: a record lock the test holds), others' output still flows."""
    import threading

    from engine.containers.client import MonitorClient

    talker = start_d(cengine, "sh", "-c", WAIT_THEN.format(cue="go", then="seq 1 30000; echo done; sleep 300"),
                     network="none")
    slow = cengine.container_create(CreateOptions(image="busybox", cmd=("true",), network="none"))
    wait_for(lambda: "start" in log_text(cengine, talker), what="the first line")
    replies: list[object] = []
    with cengine.store.records.locked(slow):
        def ask() -> None:
            with MonitorClient(cengine.store).request({"op": "start", "id": slow}) as channel:
                replies.append(channel.reply())

        asker = threading.Thread(target=ask)
        asker.start()
        time.sleep(0.3)  # the monitor's main loop is now stuck on the lock
        trigger(cengine, talker)
        # ~170 KB: far more than a pipe holds, so only a drain apart from the main loop gets it all in
        wait_for(lambda: "done\n" in log_text(cengine, talker), what="the output while the loop is busy")
        assert not replies
    asker.join(timeout=30)
    assert replies and isinstance(replies[0], dict) and replies[0].get("ok")
