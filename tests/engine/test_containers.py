"""Containers end to end on real namespaces and overlays: records, init layer, monitor, logs, lifecycle."""

from __future__ import annotations

import json
import os
import time

import pytest

from engine.containers import CreateOptions
from engine.errors import (
    ContainerConflict,
    ContainerNotFound,
    ContainerStartError,
    ImageInUse,
)
from engine.store.paths import INIT_SUFFIX, MOUNT_ID_FILE
from engine.store.rwlayers import INIT_DIRS, INIT_FILES
from tests.engine.containers_fixtures import (  # noqa: F401
    cengine,
    clean_containers,
    monitor_pid,
    run,
    start_d,
    stop_monitor,
)


def mount_id(engine, cid: str) -> str:  # type: ignore[no-untyped-def]
    with open(os.path.join(engine.paths.mount_record(cid), MOUNT_ID_FILE)) as f:
        return f.read()


def test_create_writes_docker_records_and_init_layer(cengine) -> None:  # type: ignore[no-untyped-def]
    before = set(os.listdir(cengine.paths.overlay))
    cid = cengine.container_create(CreateOptions(image="busybox", cmd=("sh",), name="ubuntu-local",
                                                 labels={"a": "b"}))
    mid = mount_id(cengine, cid)
    assert set(os.listdir(cengine.paths.overlay)) - before == {mid, mid + INIT_SUFFIX}
    assert sorted(os.listdir(cengine.paths.container_dir(cid))) == sorted(
        ["config.v2.json", "hostconfig.json", "hostname", "hosts", "resolv.conf", f"{cid}-json.log"])
    init = cengine.paths.diff_dir(mid + INIT_SUFFIX)
    for name in INIT_DIRS:
        assert os.path.isdir(os.path.join(init, name))
    for name in INIT_FILES:
        assert os.path.isfile(os.path.join(init, name))
    assert os.readlink(os.path.join(init, "etc/mtab")) == "/proc/mounts"
    config = json.load(open(cengine.paths.container_file(cid, "config.v2.json")))
    assert config["Name"] == "/ubuntu-local" and config["Path"] == "sh" and config["Config"]["Labels"] == {"a": "b"}
    assert set(config["State"]) >= {"Status", "Running", "Paused", "Pid", "ExitCode", "StartedAt", "FinishedAt",
                                    "OOMKilled"}
    assert config["State"]["Status"] == "created"
    assert open(cengine.paths.container_file(cid, "hostname")).read() == cid[:12] + "\n"
    with pytest.raises(ContainerConflict, match="already in use"):
        cengine.container_create(CreateOptions(image="busybox", name="ubuntu-local"))


def test_run_exit_codes_and_isolation(cengine) -> None:  # type: ignore[no-untyped-def]
    cid, code, text = run(cengine, "sh", "-c", "hostname; ps -o pid,args | sed -n 2p; cat /proc/net/dev | "
                          "grep -c :; echo $FOO; exit 3", env=("FOO=bar",), network="none")
    assert code == 3
    lines = text.split("\n")
    assert lines[0] == cid[:12]
    assert lines[1].split()[:2] == ["1", "sh"]
    assert lines[2] == "1"  # network none: only lo
    assert lines[3] == "bar"
    with pytest.raises(ContainerStartError) as err:
        run(cengine, "nosuch")
    assert err.value.exit_code == 127
    with pytest.raises(ContainerStartError) as err:
        run(cengine, "/etc/passwd")
    assert err.value.exit_code == 126


def test_network_host_sees_host_interfaces(cengine) -> None:  # type: ignore[no-untyped-def]
    def names(text: str) -> set[str]:
        return {line.split(":")[0].strip() for line in text.splitlines() if ":" in line}

    before = names(open("/proc/net/dev").read())
    _, code, text = run(cengine, "cat", "/proc/net/dev", network="host")
    # Other tests may add or remove their own bridges meanwhile: every interface present throughout is seen.
    assert code == 0 and before & names(open("/proc/net/dev").read()) <= names(text)


def test_workdir_user_entrypoint_and_bind_mounts(cengine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "in.txt").write_text("from host\n")
    _, code, text = run(cengine, "-c", "pwd; id -u; cat /data/in.txt; touch /data/x 2>/dev/null || echo ro",
                        entrypoint=("sh",), workdir="/tmp", user="65534",
                        binds=(f"{tmp_path / 'data'}:/data:ro",))
    assert (code, text) == (0, "/tmp\n65534\nfrom host\nro\n")


def test_logs_json_file_tail_since_and_follow(cengine) -> None:  # type: ignore[no-untyped-def]
    cid, code, _ = run(cengine, "sh", "-c", "echo one; echo two >&2; printf three")
    lines = open(cengine.paths.container_log(cid)).read().splitlines()
    first = json.loads(lines[0])
    assert set(first) == {"log", "stream", "time"} and first["log"] == "one\n" and first["stream"] == "stdout"
    assert [json.loads(x)["stream"] for x in lines] == ["stdout", "stderr", "stdout"]
    assert [e.log for e in cengine.container_logs(cid, tail=2)] == ["two\n", "three"]
    assert list(cengine.container_logs(cid, since=time.time() + 60)) == []
    assert list(cengine.container_logs(cid, until=1.0)) == []
    cid = start_d(cengine, "sh", "-c", "for i in 1 2 3; do echo $i; sleep 0.1; done")
    assert [e.log for e in cengine.container_logs(cid, follow=True)] == ["1\n", "2\n", "3\n"]


def test_containers_outlive_the_command_and_survive_monitor_death_honestly(cengine) -> None:  # type: ignore[no-untyped-def]
    cid = start_d(cengine, "sh", "-c", "echo started; sleep 100")
    config = cengine.store.records.load(cid)
    assert config["State"]["Running"] and config["State"]["Pid"] > 0
    assert os.path.ismount(cengine.paths.merged_dir(mount_id(cengine, cid)))
    deadline = time.monotonic() + 5
    while not list(cengine.container_logs(cid)) and time.monotonic() < deadline:
        time.sleep(0.01)
    stop_monitor(cengine)
    [summary] = cengine.container_list(all=True)
    assert (summary.state, summary.exit_code) == ("exited", 137)
    assert not os.path.ismount(cengine.paths.merged_dir(mount_id(cengine, cid)))
    assert [e.log for e in cengine.container_logs(cid)] == ["started\n"]
    cengine.container_start(cid)  # a new monitor starts on demand
    assert cengine.store.records.load(cid)["State"]["Running"]


def test_stop_kill_wait_restart_rm(cengine) -> None:  # type: ignore[no-untyped-def]
    # sh as pid 1 ignores SIGTERM: stop must fall back to SIGKILL after the timeout.
    cid = start_d(cengine, "sh", "-c", "sleep 100 & wait")
    t0 = time.monotonic()
    cengine.container_stop(cid, timeout=1)
    assert 0.9 < time.monotonic() - t0 < 50  # the 1 s grace, then SIGKILL: not sleep 100's end
    state = cengine.store.records.load(cid)["State"]
    assert (state["Status"], state["ExitCode"], state["Running"]) == ("exited", 137, False)
    cengine.container_restart(cid, timeout=0)
    assert cengine.store.records.load(cid)["State"]["Running"]
    with pytest.raises(ContainerConflict, match="cannot remove a running container"):
        cengine.container_remove(cid)
    cengine.container_kill(cid, signal="TERM")  # ignored by pid 1
    time.sleep(0.1)
    assert cengine.store.records.load(cid)["State"]["Running"]
    cengine.container_kill(cid)
    assert cengine.container_wait(cid) == 137
    mid = mount_id(cengine, cid)
    cengine.container_remove(cid)
    assert not os.path.exists(cengine.paths.layer_dir(mid))
    assert not os.path.exists(cengine.paths.layer_dir(mid + INIT_SUFFIX))
    assert not os.path.exists(cengine.paths.mount_record(cid))
    with pytest.raises(ContainerNotFound):
        cengine.container_inspect(cid)


def test_auto_remove_and_restart_policy(cengine) -> None:  # type: ignore[no-untyped-def]
    cid, code, text = run(cengine, "sh", "-c", "echo bye; exit 4", auto_remove=True)
    assert (code, text) == (4, "bye\n")
    deadline = time.monotonic() + 5
    while os.path.exists(cengine.paths.container_dir(cid)) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert cengine.container_list(all=True) == []
    cid = start_d(cengine, "sh", "-c", "exit 1", restart="on-failure:2")
    deadline = time.monotonic() + 5
    while cengine.store.records.load(cid)["RestartCount"] < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert cengine.container_wait(cid) == 1
    assert cengine.store.records.load(cid)["RestartCount"] == 2


def test_image_in_use_and_inspect_and_diff(cengine) -> None:  # type: ignore[no-untyped-def]
    cid = start_d(cengine, "sh", "-c", "echo x > /new; echo y >> /etc/passwd; rm /bin/ls; sleep 100")
    deadline = time.monotonic() + 5
    while not any(c.path == "/bin/ls" for c in cengine.container_changes(cid)) and time.monotonic() < deadline:
        time.sleep(0.02)
    with pytest.raises(ImageInUse):
        cengine.image_remove("busybox")
    changes = {(c.kind, c.path) for c in cengine.container_changes(cid)}
    assert {("A", "/new"), ("C", "/etc"), ("C", "/etc/passwd"), ("C", "/bin"), ("D", "/bin/ls")} <= changes
    info = cengine.container_inspect(cid, size=True)
    assert info["Id"] == cid and info["State"]["Running"] and info["GraphDriver"]["Name"] == "overlay2"
    assert info["SizeRw"] > 0 and info["SizeRootFs"] > info["SizeRw"]
    assert info["HostConfig"]["NetworkMode"] == "bridge"


def test_system_check_finds_stale_container_state(cengine) -> None:  # type: ignore[no-untyped-def]
    cid = start_d(cengine, "sleep", "100")
    assert cengine.system_check().ok
    # A monitor killed while nobody looks: the record still says running, the overlay may stay mounted.
    pid = monitor_pid(cengine)
    os.kill(pid, 9)
    deadline = time.monotonic() + 5
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        time.sleep(0.02)
    kinds = {p.kind for p in cengine.system_check().problems}
    assert "stale container state" in kinds
    report = cengine.system_check(repair=True)
    assert report.ok, report.problems
    assert cengine.store.records.load(cid)["State"]["Status"] == "exited"


def test_exec_joins_namespaces_cgroup_and_user(cengine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    cid = start_d(cengine, "sh", "-c", "sleep 100 & wait", memory=64 << 20, env=("FROM_IMAGE=1",))
    out = tmp_path / "out"
    with open(out, "wb") as f:
        code = cengine.container_exec(cid, ["sh", "-c", "hostname; echo $FROM_IMAGE $X; ps -o pid,args | "
                                            "sed -n 2p; grep -c : /proc/net/dev; pwd; id -u; exit 4"],
                                      env=["X=2"], workdir="/etc", user="65534", stdout=f.fileno(), stderr=f.fileno())
    assert code == 4
    # /proc/net/dev of the container's own netns: lo and its bridge eth0.
    assert out.read_text().split("\n")[:6] == [cid[:12], "1 2", "    1 sh -c sleep 100 & wait", "2", "/etc", "65534"]
    from engine.runtime.nsenter import container_cgroup_procs

    procs = container_cgroup_procs(cengine.store.records.load(cid)["State"]["Pid"])
    assert any("/memory/" in p for p in procs)
    with pytest.raises(ContainerStartError) as err:
        cengine.container_exec(cid, ["nosuch"])
    assert err.value.exit_code == 127
    cengine.container_stop(cid, timeout=0)
    with pytest.raises(Exception, match="is not running"):
        cengine.container_exec(cid, ["true"])


def test_rename_top_and_prune(cengine) -> None:  # type: ignore[no-untyped-def]
    cid = start_d(cengine, "sh", "-c", "sleep 100 & wait", name="old")
    done, _, _ = run(cengine, "true")
    cengine.container_rename("old", "new")
    assert cengine.container_resolve("new") == cid
    with pytest.raises(ContainerConflict):
        cengine.container_rename(done, "new")
    header, rows = cengine.container_top("new")
    assert "PID" in header and sorted(r[-1] for r in rows) == ["sh -c sleep 100 & wait", "sleep 100"]
    removed, _ = cengine.container_prune()
    assert removed == [done]
    assert [s.id for s in cengine.container_list(all=True)] == [cid]


def test_log_rotation_and_follow_across_it(cengine) -> None:  # type: ignore[no-untyped-def]
    opts = {"max-size": "2k", "max-file": "3"}
    cid, code, text = run(cengine, "sh", "-c", "for i in $(seq 1000); do echo $i; done", log_opts=opts)
    assert code == 0 and text.endswith("999\n1000\n")
    log = cengine.paths.container_log(cid)
    assert os.path.exists(log + ".1") and os.path.exists(log + ".2") and not os.path.exists(log + ".3")
    assert all(os.path.getsize(p) < 2048 + 100 for p in (log, log + ".1", log + ".2"))
    kept = [e.log for e in cengine.container_logs(cid)]
    assert kept == [f"{i}\n" for i in range(1001 - len(kept), 1001)]
    cid = start_d(cengine, "sh", "-c", "for i in $(seq 200); do echo $i; sleep 0.001; done", log_opts=opts)
    assert [e.log for e in cengine.container_logs(cid, follow=True)] == [f"{i}\n" for i in range(1, 201)]
    with pytest.raises(Exception, match="unknown log opt"):
        cengine.container_create(CreateOptions(image="busybox", log_opts={"mode": "x"}))


def test_log_writer_splits_lines_and_keeps_partials(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from engine.containers.logs import MAX_LINE, LogWriter, read_entries, tail_lines

    path = str(tmp_path / "log")
    writer = LogWriter(path)
    writer.feed("stdout", b"a\nb", 1.0)
    writer.feed("stderr", b"e\n", 2.0)
    writer.feed("stdout", b"c\n" + b"x" * (MAX_LINE + 5), 3.0)
    writer.flush(4.0)
    writer.close()
    data = open(path, "rb").read()
    entries = list(read_entries(data))
    assert [(e.stream, e.log) for e in entries] == [
        ("stdout", "a\n"), ("stderr", "e\n"), ("stdout", "bc\n"), ("stdout", "x" * MAX_LINE), ("stdout", "xxxxx")]
    assert entries[0].time == "1970-01-01T00:00:01.000000000Z"
    assert list(read_entries(tail_lines(data, 2)))[0].log == "x" * MAX_LINE
    assert tail_lines(data, 0) == b""


def test_cp_both_ways_stays_inside_the_root(cengine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    cid, _, _ = run(cengine, "sh", "-c", "mkdir /d; echo hi > /d/f; ln -s /etc/hostname /d/link; ln -s / /esc; "
                    "ln -s ../../../../../../etc /up")
    cengine.container_copy(f"{cid}:/d", str(tmp_path))
    assert (tmp_path / "d" / "f").read_text() == "hi\n"
    assert os.readlink(tmp_path / "d" / "link") == "/etc/hostname"  # a link is copied as a link
    cengine.container_copy(f"{cid}:/up/passwd", str(tmp_path / "passwd"))
    assert (tmp_path / "passwd").read_text().startswith("root:x:0:0:root:/root:/bin/sh")  # the image's, not ours
    (tmp_path / "in").write_text("new\n")
    cengine.container_copy(str(tmp_path / "in"), f"{cid}:/esc/tmp/")
    assert ("A", "/tmp/in") in {(c.kind, c.path) for c in cengine.container_changes(cid)}
    host_tmp_before = set(os.listdir("/tmp"))
    cengine.container_copy(str(tmp_path / "in"), f"{cid}:/esc/../../tmp/escaped")
    assert set(os.listdir("/tmp")) == host_tmp_before
    assert ("A", "/tmp/escaped") in {(c.kind, c.path) for c in cengine.container_changes(cid)}
    with pytest.raises(Exception, match="Could not find"):
        cengine.container_copy(f"{cid}:/nope", str(tmp_path))


def test_events_journal_sees_the_lifecycle(cengine) -> None:  # type: ignore[no-untyped-def]
    start = cengine.store.journal.end()
    cid, _, _ = run(cengine, "true")
    cengine.container_remove(cid)
    events, _ = cengine.store.journal.read(start)
    assert [(e.type, e.action) for e in events if e.id == cid] == [
        ("container", "create"), ("container", "start"), ("container", "die"), ("container", "destroy")]


def test_read_only_tmpfs_and_named_volumes(cengine) -> None:  # type: ignore[no-untyped-def]
    _, code, text = run(cengine, "sh", "-c", "touch /x 2>/dev/null || echo ro; echo v > /data/f; "
                        "touch /run/ok && echo tmpfs", read_only=True, tmpfs=("/run:size=1m",),
                        binds=("vol1:/data",))
    assert (code, text) == (0, "ro\ntmpfs\n")
    assert open(cengine.paths.volume_data("vol1") + "/f").read() == "v\n"
    cid, code, text = run(cengine, "sh", "-c", "cat /data/f; (echo x > /data/g) 2>/dev/null || echo ro",
                          binds=("vol1:/data:ro",))
    assert (code, text) == (0, "v\nro\n")
    info = cengine.container_inspect(cid)
    assert info["Mounts"][0]["Type"] == "volume" and info["Mounts"][0]["Source"] == cengine.paths.volume_data("vol1")
    volumes = [r for r in cengine.system_df().rows if r.type == "Local Volumes"][0]
    assert (volumes.total, volumes.active, volumes.size) == (1, 1, 2)


def test_commit_makes_an_image_of_the_writable_layer(cengine) -> None:  # type: ignore[no-untyped-def]
    cid = start_d(cengine, "sh", "-c", "echo data > /hello; rm /bin/ls; sleep 100", env=("A=1",))
    deadline = time.monotonic() + 5
    while not any(c.path == "/bin/ls" for c in cengine.container_changes(cid)) and time.monotonic() < deadline:
        time.sleep(0.02)
    image_id = cengine.container_commit(cid, "mine:v1", message="added hello",
                                        changes=lambda c: c.update(Cmd=["cat", "/hello"]))
    assert cengine.store.records.load(cid)["State"]["Status"] == "running"  # paused only meanwhile
    history = cengine.image_history("mine:v1")
    assert history[0].id == image_id and history[0].comment == "added hello" and history[0].size > 0
    assert "A=1" in cengine.image_config("mine:v1")["config"]["Env"]
    _, code, text = run(cengine, image="mine:v1")  # type: ignore[call-arg]
    assert (code, text) == (0, "data\n")
    with pytest.raises(ContainerStartError):
        run(cengine, "ls", image="mine:v1")  # type: ignore[call-arg]


def test_isolation_seen_from_inside(cengine) -> None:  # type: ignore[no-untyped-def]
    script = "; ".join([
        "mount -t tmpfs none /mnt 2>/dev/null && echo mount-ok || echo mount-denied",
        "(echo 1 > /proc/sys/kernel/sysrq) 2>/dev/null && echo sys-ok || echo sys-denied",
        "[ -s /proc/kcore ] && echo kcore-visible || echo kcore-masked",
        "ls /dev | tr '\\n' ' '",
        "echo",
        "ps -o pid | wc -l",
        "grep CapBnd /proc/self/status",
        "grep NoNewPrivs /proc/self/status",
        "kill -0 $(cat /proc/1/stat | cut -d' ' -f1) && echo self-ok",
    ])
    _, code, text = run(cengine, "sh", "-c", script)
    lines = text.splitlines()
    assert lines[:3] == ["mount-denied", "sys-denied", "kcore-masked"]
    assert set(lines[3].split()) >= {"null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "mqueue"}
    assert 4 <= int(lines[4]) <= 6  # header, sh, ps, wc (a pipeline's child not yet reaped): none of the host's
    assert lines[5].split() == ["CapBnd:", "00000000a80425fb"]  # Docker's default set
    assert lines[6].split() == ["NoNewPrivs:", "0"]  # Docker's default; --security-opt no-new-privileges sets it


def test_racing_removals_never_take_the_monitor_down(cengine) -> None:  # type: ignore[no-untyped-def]
    keeper = start_d(cengine, "sleep", "100")
    pid = monitor_pid(cengine)
    for _ in range(8):
        cid = start_d(cengine, "sleep", "100", restart="always")
        cengine.container_remove(cid, force=True)
        cid = start_d(cengine, "sh", "-c", "exit 3", auto_remove=True)
        try:
            cengine.container_remove(cid, force=True)
        except ContainerNotFound:
            pass
    assert monitor_pid(cengine) == pid
    assert cengine.store.records.load(keeper)["State"]["Running"]
    assert [s.id for s in cengine.container_list(all=True)] == [keeper]
