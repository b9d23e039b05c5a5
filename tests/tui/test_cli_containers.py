"""The container verbs as a user types them, and the seed's observations (issue #4, item 2)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time

from engine.store.paths import INIT_SUFFIX
from engine.store.sizes import dir_size
from tests.engine.containers_fixtures import cengine  # noqa: F401


def _du_k(path: str) -> int:
    """Disk use in KiB as the seed's ``du -sh`` counts it (one filesystem: not through merged/ mounts)."""
    return int(subprocess.run(["du", "-skx", path], capture_output=True, text=True, check=True).stdout.split()[0])


def _layer_state(engine) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Image layer dirs and their sizes: must never change while containers come and go."""
    out = {}
    for chain_id in engine.store.layers.list():
        layer = engine.store.layers.get(chain_id)
        out[layer.cache_id] = dir_size(engine.paths.diff_dir(layer.cache_id))
    return out


def test_seed_observations(cengine, berth) -> None:  # type: ignore[no-untyped-def]
    overlay, containers = cengine.paths.overlay, cengine.paths.containers
    image_layers = _layer_state(cengine)
    image_size = sum(image_layers.values())
    before = set(os.listdir(overlay))
    status, out, err = berth("run", "-dit", "--name", "ubuntu-local", "busybox", "/bin/sh")
    assert status == 0, err
    cid = out.strip()
    added = set(os.listdir(overlay)) - before
    [mount_id] = [name for name in added if not name.endswith(INIT_SUFFIX)]
    assert added == {mount_id, mount_id + INIT_SUFFIX}
    assert set(os.listdir(containers)) - {f".lock-{cid}", ".names"} == {cid}
    virtual = _human(image_size)
    assert _ps_s_row(berth, "ubuntu-local").endswith(f"0B (virtual {virtual})")
    with open(os.path.join(cengine.paths.merged_dir(mount_id), "3mb"), "wb") as f:
        f.write(b"\0" * 3 * 1024 * 1024)
    assert _ps_s_row(berth, "ubuntu-local").endswith(f"3.15MB (virtual {_human(image_size + 3 * 1024 * 1024)})")
    assert berth("stop", "-t", "0", "ubuntu-local")[0] == 0
    assert berth("rm", "ubuntu-local") == (0, "ubuntu-local\n", "")
    assert set(os.listdir(overlay)) == before
    assert [n for n in os.listdir(containers) if not n.startswith(".")] == []
    assert _layer_state(cengine) == image_layers
    for i in (1, 2, 3):
        assert berth("run", "-dit", "--name", f"ubuntu-local-{i}", "busybox", "/bin/sh")[0] == 0
    assert set(os.listdir(overlay)) - before == {m for m in os.listdir(overlay) if m not in before}
    assert len(set(os.listdir(overlay)) - before) == 6
    assert _layer_state(cengine) == image_layers
    for name in os.listdir(containers):
        if not name.startswith("."):
            assert _du_k(os.path.join(containers, name)) <= 32
    rows = berth("ps", "-s")[1].splitlines()[1:]
    assert len(rows) == 3 and all(r.endswith(f"0B (virtual {virtual})") for r in rows)


def _human(size: int) -> str:
    from tui.format import human_size

    return human_size(size)


def _ps_s_row(berth, name: str) -> str:  # type: ignore[no-untyped-def]
    status, out, _ = berth("ps", "-s")
    assert status == 0
    [row] = [line for line in out.splitlines() if re.search(rf"\s{name}\s", line)]
    return row


def test_run_exit_codes_and_messages(cengine, berth) -> None:  # type: ignore[no-untyped-def]
    assert berth("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 7") == (7, "out\n", "err\n")
    status, out, err = berth("run", "--rm", "busybox", "nosuch")
    assert (status, out) == (127, "")
    assert err == 'Error: exec: "nosuch": executable file not found in $PATH\n'
    assert berth("run", "--rm", "busybox", "/etc/passwd")[0] == 126
    assert berth("run", "--rm", "--network", "nosuchnet", "busybox", "true")[0] == 1
    assert berth("run", "--rm", "nosuchimage", "true")[0] == 1
    assert [n for n in os.listdir(cengine.paths.containers) if not n.startswith(".")] == []


def test_run_flags(cengine, berth, tmp_path) -> None:  # type: ignore[no-untyped-def]
    env_file = tmp_path / "env"
    env_file.write_text("# comment\nA=from-file\nB=2\n")
    status, out, _ = berth("run", "--rm", "--env-file", str(env_file), "-e", "B=flag", "-w", "/etc", "-u", "65534",
                           "-h", "myhost", "--entrypoint", "sh", "busybox",
                           "-c", 'echo $A $B $(pwd) $(id -u) $(hostname)')
    assert (status, out) == (0, "from-file flag /etc 65534 myhost\n")


def test_ps_logs_and_lifecycle_verbs(cengine, berth) -> None:  # type: ignore[no-untyped-def]
    assert berth("run", "--name", "done", "-l", "tier=web", "busybox", "sh", "-c", "echo a; echo b; echo c")[0] == 0
    cid = berth("run", "-d", "--name", "up", "busybox", "sh", "-c", "echo hi; sleep 100 & wait")[1].strip()
    out = berth("ps")[1].splitlines()
    assert out[0].split() == ["CONTAINER", "ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]
    assert len(out) == 2 and out[1].startswith(cid[:12]) and re.search(r"Up (Less than a second|\d+ seconds?)",
                                                                          out[1])
    assert '"sh -c echo hi; slee…"' in out[1]
    rows = berth("ps", "-a")[1]
    assert re.search(r"Exited \(0\) (Less than a second|\d+ seconds?) ago", rows)
    assert berth("ps", "-a", "-q")[1].split() == [cid[:12], berth("ps", "-aq", "--no-trunc")[1].split()[1][:12]]
    assert berth("ps", "-q", "--no-trunc")[1] == cid + "\n"
    assert berth("ps", "-a", "--filter", "label=tier=web", "--format", "json")[1].count("\n") == 1
    assert json.loads(berth("ps", "-a", "--filter", "status=exited", "--format", "json")[1])["Names"] == "done"
    assert berth("ps", "-a", "--filter", "name=up", "-q")[1] == cid[:12] + "\n"
    assert berth("ps", "-l", "-q")[1] == cid[:12] + "\n"
    assert berth("logs", "done") == (0, "a\nb\nc\n", "")
    assert berth("logs", "--tail", "1", "done")[1] == "c\n"
    assert re.match(r"^\d{4}-\d\d-\d\dT[\d:.]+Z a\n", berth("logs", "-t", "done")[1])
    assert berth("logs", "--since", "1h", "done")[1] == "a\nb\nc\n"
    assert berth("logs", "--until", "1h", "done")[1] == ""
    assert berth("stop", "-t", "1", "up", "done") == (0, "up\ndone\n", "")
    status, out, err = berth("rm", "up", "nosuch")
    assert (status, out, err) == (1, "up\n", "Error: No such container: nosuch\n")
    info = json.loads(berth("inspect", "done")[1])[0]
    assert info["Name"] == "/done" and info["State"]["Status"] == "exited"
    assert json.loads(berth("inspect", "busybox")[1])[0]["Id"].startswith("sha256:")
    assert berth("wait", "done") == (0, "0\n", "")


def test_stop_is_parallel(cengine, berth) -> None:  # type: ignore[no-untyped-def]
    names = [f"c{i}" for i in range(5)]
    for name in names:
        assert berth("run", "-d", "--name", name, "busybox", "sleep", "100")[0] == 0
    t0 = time.monotonic()
    status, out, _ = berth("stop", "-t", "1", *names)
    assert status == 0 and out.split() == names
    # Five 1 s grace periods one after another take 5 s; side by side, about one (any load allowed for).
    assert time.monotonic() - t0 < 4.5


def test_system_df_and_diff(cengine, berth) -> None:  # type: ignore[no-untyped-def]
    assert berth("run", "--name", "w1", "busybox", "sh", "-c", "echo x > /added")[0] == 0
    assert berth("diff", "w1") == (0, "A /added\n", "")
    out = berth("system", "df")[1].splitlines()
    assert out[0].split() == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
    assert out[1].split()[:3] == ["Images", "1", "1"]
    assert out[2].split()[:4] == ["Containers", "1", "0", "2B"]
    assert "Images space usage:" in berth("system", "df", "-v")[1]


def _tmux_wait(session: str, text: str, timeout: float = 10.0) -> str:
    """Poll the pane until ``text`` shows (no bare sleeps); the pane's text."""
    deadline = time.monotonic() + timeout
    while True:
        pane = subprocess.run(["tmux", "capture-pane", "-t", session, "-p"], capture_output=True, text=True).stdout
        if text in pane:
            return pane
        assert time.monotonic() < deadline, f"{text!r} never showed:\n{pane}"
        time.sleep(0.05)


def test_run_it_pty_ctrl_c_detach_attach_and_exec_it(cengine, store_root) -> None:  # type: ignore[no-untyped-def]
    import sys

    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    berth = f"cd {repo} && BERTH_ROOT={store_root} {sys.executable} -m tui.cli"
    session = f"berth-test-{os.getpid()}"
    try:
        subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "91", "-y", "21",
                        f"{berth} run -it --name itc busybox sh; echo EXIT=$?; sleep 60"], check=True)
        _tmux_wait(session, "/ #")
        subprocess.run(["tmux", "send-keys", "-t", session, "stty size; sleep 50", "Enter"], check=True)
        _tmux_wait(session, "21 91")
        subprocess.run(["tmux", "send-keys", "-t", session, "C-c"], check=True)
        subprocess.run(["tmux", "send-keys", "-t", session, "echo after-$((40+2))", "Enter"], check=True)
        _tmux_wait(session, "after-42")
        subprocess.run(["tmux", "send-keys", "-t", session, "C-p", "C-q"], check=True)
        _tmux_wait(session, "EXIT=0")
        assert cengine.store.records.load(cengine.container_resolve("itc"))["State"]["Running"]
        # The next session comes up before this one goes: a tmux server left with no session exits, and a
        # new-session racing its exit fails ("server exited unexpectedly") where no other session keeps it.
        first, session = session, session + "-2"
        subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "80", "-y", "24",
                        f"{berth} exec -it itc sh; echo EXEC=$?; {berth} attach itc; echo ATTACH=$?; sleep 60"],
                       check=True)
        subprocess.run(["tmux", "kill-session", "-t", first], check=True)
        _tmux_wait(session, "/ #")
        subprocess.run(["tmux", "send-keys", "-t", session, "stty size; exit 3", "Enter"], check=True)
        _tmux_wait(session, "EXEC=3")
        assert "24 80" in _tmux_wait(session, "EXEC=3")
        # attach shows only new output: type until the shell's answer comes back through it.
        deadline = time.monotonic() + 10
        while "ready-2" not in _tmux_wait(session, "EXEC=3"):
            assert time.monotonic() < deadline
            subprocess.run(["tmux", "send-keys", "-t", session, "echo ready-$((1+1))", "Enter"], check=True)
            time.sleep(0.2)
        subprocess.run(["tmux", "send-keys", "-t", session, "exit 5", "Enter"], check=True)
        _tmux_wait(session, "ATTACH=5")
    finally:
        for name in {session, session.removesuffix("-2")}:
            subprocess.run(["tmux", "kill-session", "-t", name], stderr=subprocess.DEVNULL)


def test_system_prune_and_container_prune(cengine, berth) -> None:  # type: ignore[no-untyped-def]
    cid = berth("create", "busybox", "true")[1].strip()
    up = berth("run", "-d", "busybox", "sleep", "100")[1].strip()
    status, out, _ = berth("system", "prune", "-f")
    assert status == 0 and out.startswith(f"Deleted Containers:\n{cid}\n") and "Total reclaimed space:" in out
    assert berth("ps", "-aq", "--no-trunc")[1].split() == [up]
    assert berth("container", "prune", "-f")[1] == "Total reclaimed space: 0B\n"
