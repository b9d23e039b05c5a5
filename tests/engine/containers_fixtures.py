"""Shared fixtures for container tests: a busybox image and a teardown that leaves no container, mount or monitor."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest

from engine.containers import CreateOptions
from engine.containers.recovery import monitor_alive
from engine.store.paths import MONITOR_LOCK


def run(engine, *argv: str, **kw: object) -> tuple[str, int, str]:  # type: ignore[no-untyped-def]
    """Run to completion (busybox unless ``image=``); (id, exit code, stdout+stderr text)."""
    kw.setdefault("image", "busybox")
    cid = engine.container_create(CreateOptions(cmd=argv or None, **kw))  # type: ignore[arg-type]
    attachment = engine.container_start(cid, attach=True)
    text = "".join(e.log for e in attachment.entries())
    attachment.close()
    return cid, int(attachment.exit_code), text


def start_d(engine, *argv: str, **kw: object) -> str:  # type: ignore[no-untyped-def]
    """Create and start, detached (busybox unless ``image=``); the container's ID."""
    kw.setdefault("image", "busybox")
    cid = engine.container_create(CreateOptions(cmd=argv or None, **kw))  # type: ignore[arg-type]
    engine.container_start(cid)
    return cid


def monitor_pid(engine) -> int | None:  # type: ignore[no-untyped-def]
    try:
        with open(engine.paths.monitor_file(MONITOR_LOCK), encoding="ascii") as f:
            return int(f.read().strip() or 0) or None
    except (OSError, ValueError):
        return None


def stop_monitor(engine) -> None:  # type: ignore[no-untyped-def]
    """Kill the store's keeper, the monitor lock's holder (its monitor and containers die with it), and wait
    until the lock is free. (Killing only the monitor kills nothing: see test_monitor_faults.)"""
    pid = monitor_pid(engine)
    if pid and monitor_alive(engine.store):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 10
    while monitor_alive(engine.store):
        assert time.monotonic() < deadline, "monitor did not exit"
        time.sleep(0.02)


def cgroup_dirs(root: str, cid: str) -> list[str]:
    from engine.runtime.cgroups import CgroupV1, CgroupV2, for_container

    group = for_container(cid, root)
    if isinstance(group, CgroupV1):
        return list(group.dirs.values())
    return [group.dir] if isinstance(group, CgroupV2) else []


def clean_containers(engine) -> None:  # type: ignore[no-untyped-def]
    """Remove every container and stop the monitor; fail if a cgroup of any of them is left behind."""
    seen = {s.id for s in engine.container_list(all=True)}
    for cid in seen:
        try:
            engine.container_remove(cid, force=True)
        except Exception:
            pass
    stop_monitor(engine)
    for s in engine.container_list(all=True):  # records the killed monitor left running
        seen.add(s.id)
        engine.container_remove(s.id, force=True)
    leaked = [d for cid in seen for d in cgroup_dirs(engine.paths.root, cid) if os.path.exists(d)]
    assert not leaked, f"test left cgroups behind: {leaked}"


@pytest.fixture
def cengine(engine) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """An engine with busybox:latest; every container is removed and the monitor stopped afterwards."""
    engine.image_bootstrap("busybox:latest")
    try:
        yield engine
    finally:
        clean_containers(engine)
