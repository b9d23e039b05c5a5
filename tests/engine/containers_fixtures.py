"""Shared fixtures for container tests: a busybox image and a teardown that leaves no container, mount or monitor."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest

from engine.containers.recovery import monitor_alive
from engine.store.paths import MONITOR_LOCK


def monitor_pid(engine) -> int | None:  # type: ignore[no-untyped-def]
    try:
        with open(engine.paths.monitor_file(MONITOR_LOCK), encoding="ascii") as f:
            return int(f.read().strip() or 0) or None
    except (OSError, ValueError):
        return None


def stop_monitor(engine) -> None:  # type: ignore[no-untyped-def]
    """Kill the store's monitor (its containers die with it) and wait until its lock is free."""
    pid = monitor_pid(engine)
    if pid and monitor_alive(engine):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 10
    while monitor_alive(engine):
        assert time.monotonic() < deadline, "monitor did not exit"
        time.sleep(0.02)


def clean_containers(engine) -> None:  # type: ignore[no-untyped-def]
    for s in engine.container_list(all=True):
        try:
            engine.container_remove(s.id, force=True)
        except Exception:
            pass
    stop_monitor(engine)
    for s in engine.container_list(all=True):  # records the killed monitor left running
        engine.container_remove(s.id, force=True)


@pytest.fixture
def cengine(engine) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """An engine with busybox:latest; every container is removed and the monitor stopped afterwards."""
    engine.image_bootstrap("busybox:latest")
    try:
        yield engine
    finally:
        clean_containers(engine)
