"""kill -9 of ``berth build`` at seeded moments: the store stays consistent, nothing leaks, nothing is lost.

BERTH_KILL_POINTS (default 20) sets the kill points per verb.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

from tests.conftest import mounts_under
from tests.engine.test_crash import KILL_POINTS, REPO, berth_cmd, run

DOCKERFILE = """FROM busybox
RUN echo one > /one && sleep 0.1
COPY payload /payload
RUN cat /payload > /copy && sleep 0.1
RUN rm /one && echo three > /three
CMD ["sh"]
"""


def processes_inside(root: Path) -> list[int]:
    """PIDs whose root directory lies inside the store: containers that outlived their builder."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.readlink(f"/proc/{pid}/root").startswith(str(root)):
                found.append(int(pid))
        except OSError:
            continue
    return found


def assert_recovered(root: Path, keep: list[str]) -> str:
    """Consistent after --repair at most; no mount or process left; earlier images intact; berth works.

    Returns what the repair reported, so a test can see which kill points it hit.
    """
    check = run(root, "system", "check")
    report = ""
    if check.returncode != 0:
        repaired = run(root, "system", "check", "--repair")
        assert repaired.returncode == 0, repaired.stdout + repaired.stderr
        report = repaired.stdout
    assert run(root, "system", "check").returncode == 0
    assert mounts_under(root) == []
    deadline = time.monotonic() + 5
    while processes_inside(root) and time.monotonic() < deadline:
        time.sleep(0.05)  # a dying container may take a moment to be reaped
    assert processes_inside(root) == []
    listed = run(root, "images", "-a", "-q", "--no-trunc").stdout.split()
    for image_id in keep:
        assert image_id in listed
    return report


def test_kill_9_during_build(store_root: Path, tmp_path: Path) -> None:
    assert run(store_root, "bootstrap").returncode == 0
    base = run(store_root, "images", "-q", "--no-trunc").stdout.split()
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(DOCKERFILE)
    (context / "payload").write_bytes(os.urandom(2_000_000))
    started = time.perf_counter()
    assert run(store_root, "build", "--no-cache", "-t", "probe", str(context)).returncode == 0
    duration = time.perf_counter() - started
    rng = random.Random(8)
    interrupted, repairs = 0, ""
    for i in range(KILL_POINTS):
        proc = subprocess.Popen(berth_cmd(store_root, "build", "--no-cache", "-t", f"victim:{i}", str(context)),
                                cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(duration * (i + rng.random()) / KILL_POINTS)
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.wait(timeout=60)
        interrupted += proc.returncode == -signal.SIGKILL
        repairs += assert_recovered(store_root, base)
    assert "abandoned build container" in repairs, "no kill landed while a step's container lived"
    assert interrupted >= KILL_POINTS // 2, "most kills came after the build had finished"
    after = run(store_root, "build", "-t", "after", str(context))
    assert after.returncode == 0, after.stderr


def _berth_cgroups(root: Path) -> set[str]:
    """Container cgroup dirs (``…/berth-<store hash>/<id>``) where berth makes them, in every hierarchy."""
    from engine.runtime.cgroups import store_dirs

    found = set()
    for group in store_dirs(str(root)):
        try:
            found |= {e.name for e in os.scandir(group) if e.is_dir()}
        except FileNotFoundError:
            continue
    return found


def _store_container_ids(root: Path) -> set[str]:
    """Every container this store ever created, removed ones too, from its event journal."""
    ids = set()
    with contextlib.suppress(FileNotFoundError), open(root / "events.jsonl", encoding="utf-8") as journal:
        for line in journal:
            with contextlib.suppress(ValueError):
                event = json.loads(line)
                if event.get("type") == "container":
                    ids.add(event["id"])
    return ids


def _containers(root: Path) -> dict[str, dict[str, str]]:
    out = run(root, "ps", "-a", "--no-trunc", "--format", "json").stdout
    return {row["ID"]: row for row in map(json.loads, out.splitlines())}


def assert_containers_honest(root: Path, cgroups_before: set[str]) -> None:
    """Every mount, process and cgroup left belongs to a container ``ps`` calls running."""
    rows = _containers(root)
    running = {cid for cid, row in rows.items() if row["State"] == "running"}
    merged = set()
    for cid in running:
        doc = json.loads(run(root, "inspect", cid).stdout)[0]
        merged.add(doc["GraphDriver"]["Data"]["MergedDir"])
        assert os.path.exists(f"/proc/{doc['State']['Pid']}"), f"{cid[:12]} is called running but is dead"
    assert set(mounts_under(root)) <= merged, "a mount outlived its container"
    deadline = time.monotonic() + 10
    ours = _store_container_ids(root)
    while True:  # a container killed a moment ago is still being reaped by its monitor
        # Only this store's containers, removed ones included: other stores may run containers meanwhile.
        extra = (_berth_cgroups(root) - cgroups_before) & ours
        leaked = {c for c in extra if not any(r.startswith(c) or c.startswith(r) for r in running)}
        if not leaked or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert leaked == set(), {c[:12]: rows.get(c, {}).get("Status", "no such container") for c in leaked}


def test_kill_9_during_run_stop_rm_and_commit(store_root: Path) -> None:
    """kill -9 of run -d, stop, rm -f and commit, five moments each; plus the monitor itself."""
    assert run(store_root, "bootstrap").returncode == 0
    base = run(store_root, "images", "-q", "--no-trunc").stdout.split()
    cgroups_before = _berth_cgroups(store_root)
    rng = random.Random(44)
    points = max(5, KILL_POINTS // 4)
    verbs = {
        "run": lambda i: ["run", "-d", "--name", f"r{i}", "busybox", "sh", "-c", "trap '' TERM; sleep 300"],
        "stop": lambda i: ["stop", "-t", "1", f"r{i}"],
        "commit": lambda i: ["commit", f"r{i}", f"committed:{i}"],
        "rm": lambda i: ["rm", "-f", f"r{i}"],
    }
    try:
        for verb, argv in verbs.items():
            for i in range(points):
                if verb != "run" and f"r{i}" not in {row["Names"] for row in _containers(store_root).values()}:
                    run(store_root, "run", "-d", "--name", f"r{i}", "busybox", "sleep", "300")
                proc = subprocess.Popen(berth_cmd(store_root, *argv(i)), cwd=REPO,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(rng.uniform(0.05, 0.6))
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=60)
                assert_recovered_with_containers(store_root, base, cgroups_before)
        # The monitor itself: its containers must be marked exited, honestly, and nothing may hang.
        assert run(store_root, "run", "-d", "--name", "orphaned", "busybox", "sleep", "300").returncode == 0
        pid = json.loads(run(store_root, "inspect", "orphaned").stdout)[0]["State"]["Pid"]
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            monitor = int(f.read().rsplit(")", 1)[1].split()[1])  # the container's parent is the monitor
        os.kill(monitor, signal.SIGKILL)
        time.sleep(0.3)
        state = {row["Names"]: row["State"] for row in _containers(store_root).values()}
        assert state["orphaned"] != "running"
        assert run(store_root, "logs", "orphaned").returncode == 0
        assert_recovered_with_containers(store_root, base, cgroups_before)
        assert run(store_root, "run", "--rm", "busybox", "true").returncode == 0
    finally:
        names = [row["Names"] for row in _containers(store_root).values()]
        if names:
            run(store_root, "rm", "-f", *names)
    assert mounts_under(store_root) == []


def assert_recovered_with_containers(root: Path, keep: list[str], cgroups_before: set[str]) -> None:
    check = run(root, "system", "check")
    if check.returncode != 0:
        repaired = run(root, "system", "check", "--repair")
        assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    listed = run(root, "images", "-a", "-q", "--no-trunc").stdout.split()
    assert all(image_id in listed for image_id in keep)
    assert_containers_honest(root, cgroups_before)


def test_kill_9_during_pull_save_and_load(store_root: Path, tmp_path: Path, busybox_rootfs: Path) -> None:
    """Five kill points each for pull (from a registry on 127.0.0.1), save and load."""
    from tests.engine.distribution_fixtures import need_tool
    from tests.engine.registry_fixtures import running_registry

    need_tool("docker-registry")
    tree = tmp_path / "tree"
    subprocess.run(["cp", "-a", str(busybox_rootfs), str(tree)], check=True)
    rng = random.Random(77)
    for n in range(30):
        (tree / f"blob{n}").write_bytes(rng.randbytes(400_000))
    subprocess.run(["tar", "-C", str(tree), "-cf", str(tmp_path / "big.tar"), "."], check=True)
    assert run(store_root, "bootstrap").returncode == 0
    base = run(store_root, "images", "-q", "--no-trunc").stdout.split()
    saved = tmp_path / "saved.tar"
    with running_registry(tmp_path / "registry") as registry:
        name = f"{registry.host}/big:1"
        assert run(store_root, "import", str(tmp_path / "big.tar"), name).returncode == 0
        assert run(store_root, "push", name).returncode == 0
        assert run(store_root, "save", "-o", str(saved), name).returncode == 0
        assert run(store_root, "rmi", name).returncode == 0
        verbs = [["pull", name], ["load", "-i", str(saved)], ["save", "-o", str(tmp_path / "partial.tar"), "busybox"]]
        for argv in verbs:
            for _ in range(5):
                proc = subprocess.Popen(berth_cmd(store_root, *argv), cwd=REPO,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(rng.uniform(0.1, 0.7))
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=60)
                assert_recovered(store_root, base)
                run(store_root, "rmi", name)  # start the next kill from scratch when the last one landed
        pulled = run(store_root, "pull", name)
        assert pulled.returncode == 0, pulled.stderr
    assert_recovered(store_root, base)
