"""``berth volume …``, ``run -v``, ``rm -v``, ``system df -v`` and restart policies as a user types them."""

from __future__ import annotations

import json
import os

from tests.engine import containers_fixtures

cengine = containers_fixtures.cengine
# Off the default bridge: these tests are about volumes and policies, not networks.
_RUN = ("run", "--network", "none")


def test_volume_verbs_columns_and_errors(cengine, berth) -> None:  # type: ignore[no-untyped-def]
    assert berth("volume", "create", "data1") == (0, "data1\n", "")
    assert berth("volume", "create", "--label", "k=v", "--name", "data2")[0] == 0
    status, out, err = berth("volume", "create", "bad/name")
    assert status == 1 and out == "" and err.startswith("Error: create bad/name: ") and err.count("\n") == 1
    status, out, _ = berth("volume", "ls")
    assert out.splitlines() == ["DRIVER    VOLUME NAME", "local     data1", "local     data2"]
    assert berth("volume", "ls", "-q")[1] == "data1\ndata2\n"
    status, out, _ = berth("volume", "inspect", "data2")
    [shown] = json.loads(out)
    assert shown["Labels"] == {"k": "v"} and shown["Mountpoint"] == cengine.paths.volume_data("data2")
    assert out.startswith('[\n    {\n        "CreatedAt": ')  # Docker's 4-space indent, its key order
    status, out, err = berth("volume", "inspect", "nope")
    assert (status, err) == (1, "Error: No such volume: nope\n")
    status, out, err = berth(*_RUN, "-d", "--name", "user", "-v", "data1:/d", "busybox", "sleep", "100")
    cid = out.strip()
    status, out, err = berth("volume", "rm", "data1")
    assert (status, out, err) == (1, "", f"Error: remove data1: volume is in use - [{cid}]\n")
    status, out, err = berth("volume", "rm", "data2", "nope")
    assert (status, out, err) == (1, "data2\n", "Error: No such volume: nope\n")
    assert berth("volume", "rm", "-f", "nope")[0] == 0
    status, out, _ = berth("system", "df")
    [row] = [line for line in out.splitlines() if line.startswith("Local Volumes")]
    assert row.split()[2:5] == ["1", "1", "0B"]
    status, out, _ = berth("system", "df", "-v")
    assert "Local Volumes space usage:\n\nVOLUME NAME   LINKS   SIZE\ndata1         1       0B" in out
    assert berth("rm", "-f", "user")[0] == 0
    status, out, _ = berth("volume", "prune", "-f")
    assert (status, out) == (0, "Deleted Volumes:\ndata1\n\nTotal reclaimed space: 0B\n")
    assert berth("volume", "prune", "-f")[1] == "Total reclaimed space: 0B\n"


def test_run_dash_v_path_inspect_mounts_and_rm_v(cengine, berth) -> None:  # type: ignore[no-untyped-def]
    status, _out, err = berth(*_RUN, "--name", "w1", "-v", "/scratch", "-v", "named:/n:ro", "busybox",
                             "sh", "-c", "echo hi > /scratch/f && ls /n")
    assert status == 0, err
    mounts = json.loads(berth("inspect", "w1")[1])[0]["Mounts"]
    by_dest = {m["Destination"]: m for m in mounts}
    assert by_dest["/n"] == {"Type": "volume", "Name": "named", "Source": cengine.paths.volume_data("named"),
                             "Destination": "/n", "Driver": "local", "Mode": "ro", "RW": False, "Propagation": ""}
    anonymous = by_dest["/scratch"]["Name"]
    with open(os.path.join(cengine.paths.volume_data(anonymous), "f")) as f:
        assert f.read() == "hi\n"
    assert sorted(berth("volume", "ls", "-q")[1].split()) == sorted([anonymous, "named"])
    assert berth("rm", "-v", "w1") == (0, "w1\n", "")
    assert berth("volume", "ls", "-q")[1] == "named\n"


def test_ps_after_kill_9_of_the_monitor_shows_always_up_again(cengine, berth) -> None:  # type: ignore[no-untyped-def]
    for name, policy in (("alw", "always"), ("nop", "no")):
        assert berth(*_RUN, "-d", "--name", name, "--restart", policy, "busybox", "sleep", "300")[0] == 0
    old = cengine.store.records.load(cengine.container_resolve("alw"))["State"]["Pid"]
    containers_fixtures.stop_monitor(cengine)
    _status, out, _ = berth("ps", "-a")
    lines = {line.split()[-1]: line for line in out.splitlines()[1:]}
    assert "   Up " in lines["alw"] and "   Exited (137) " in lines["nop"], out
    assert cengine.store.records.load(cengine.container_resolve("alw"))["State"]["Pid"] != old


def test_system_prune_volumes(cengine, berth) -> None:  # type: ignore[no-untyped-def]
    assert berth("volume", "create", "idle")[0] == 0
    assert berth(*_RUN, "-d", "--name", "up", "-v", "busy:/b", "busybox", "sleep", "100")[0] == 0
    status, out, _ = berth("system", "prune", "-f")
    assert status == 0 and "Deleted Volumes" not in out
    status, out, _ = berth("system", "prune", "-f", "--volumes")
    assert status == 0 and "Deleted Volumes:\nidle\n\n" in out
    assert berth("volume", "ls", "-q")[1] == "busy\n"
