#!/usr/bin/env python3
"""The app under load, headless (Textual's Pilot at 80×24): containers refresh and keys during a log flood.

    python3 bench/app_panels.py

- *containers refresh*: ``ContainersPanel.show`` with 2,000 containers, first
  (every row added) and again with every status changed (rows updated by key),
  each timed to the next idle frame; the engine's listing is not included (the
  app reads only the containers the event journal names). Then one 1 s tick:
  every uptime changes, elapsed and CPU time.
- *key latency under a log flood*: a thread appends 20,000 lines a second to
  the log panel's buffer and posts ``LogGrew`` as the real follower does; the
  time from a key event to its handler having run (the frame follows at the
  next refresh, ≤ 1/60 s), 30 presses.
- *memory*: the process's RSS after 100,000 lines sit in the log buffer.
Not a test; it never gates CI.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
os.environ["BERTH_KEYMAP"] = ""

from engine import Engine  # noqa: E402
from engine.containers.logs import LogEntry  # noqa: E402
from engine.containers.models import ContainerSummary  # noqa: E402
from tui.app import BerthApp  # noqa: E402
from tui.widgets.containers_panel import ContainersPanel  # noqa: E402
from tui.widgets.log_source import LogBuffer, LogGrew  # noqa: E402
from tui.widgets.log_view import LogView  # noqa: E402
from tui.widgets.logs_panel import LogsPanel  # noqa: E402

CONTAINERS = 2_000
LINES_PER_SECOND = int(os.environ.get("BENCH_LINES_PER_SECOND", "20000"))


def _containers(state: str, now: float) -> tuple[ContainerSummary, ...]:
    return tuple(ContainerSummary(f"{i:064x}", f"c{i}", "busybox:latest", "sha256:" + "a" * 64, "sleep 1d",
                                  now - 3600, state, 0, now - 600, now - 60 if state == "exited" else 0, size_rw=4096,
                                  size_root_fs=2_000_000) for i in range(CONTAINERS))


def rss_mib() -> float:
    """This process's resident memory now, in MiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def bench(root: str) -> None:
    app = BerthApp(Engine(root), watch=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.press("3")
        panel = app.query_one(ContainersPanel)
        now = time.time()
        for label, state in (("add", "running"), ("update", "exited"), ("back to running", "running")):
            start = time.perf_counter()
            panel.show(_containers(state, now), now)
            await pilot.pause()
            print(f"containers refresh ({label}, {CONTAINERS:,} rows): {(time.perf_counter() - start) * 1000:.0f} ms")
        # The 1 s tick: every running container's uptime text changes, nothing is read from the engine.
        start, cpu = time.perf_counter(), time.process_time()
        panel.tick(now + 5)
        await pilot.pause()
        print(f"containers tick ({CONTAINERS:,} running, every uptime changed): "
              f"{(time.perf_counter() - start) * 1000:.0f} ms, {(time.process_time() - cpu) * 1000:.0f} ms of CPU")

        await pilot.press("5")
        logs, view = app.query_one(LogsPanel), app.query_one(LogView)
        logs.container_id, logs.container_name = "0" * 64, "flood"
        buffer = LogBuffer()
        view.reset(buffer)
        stop = threading.Event()

        def flood() -> None:
            i, batch, tick = 0, 1000, 1000 / LINES_PER_SECOND
            while not stop.is_set():
                buffer.extend([LogEntry("stdout", f"GET /item/{i + k} 200 OK {'x' * 60}\n", "2025-11-28T00:00:00Z")
                               for k in range(batch)])
                i += batch
                logs.post_message(LogGrew(len(buffer)))
                time.sleep(tick)

        thread = threading.Thread(target=flood, daemon=True)
        thread.start()
        await pilot.pause(0.5)
        latencies = []
        for _ in range(30):
            before = view.timestamps
            start = time.perf_counter()
            # Pilot.press waits for the app to go idle, which a flood never does; post the key as a terminal would.
            app.simulate_key("t")
            deadline = time.perf_counter() + 5
            while view.timestamps == before and time.perf_counter() < deadline:
                await asyncio.sleep(0.001)
            if view.timestamps == before:
                raise SystemExit(f"the key never landed; focus: {app.focused}")
            await asyncio.sleep(0.05)  # spread the presses out
            latencies.append(time.perf_counter() - start - 0.05)
        stop.set()
        thread.join()
        print(f"key → screen while logging {LINES_PER_SECOND:,} lines/s: median "
              f"{statistics.median(latencies) * 1000:.0f} ms, worst {max(latencies) * 1000:.0f} ms "
              f"({len(buffer):,} lines buffered)")
        buffer.extend([LogEntry("stdout", f"line {i} {'y' * 60}\n", "2025-11-28T00:00:00Z") for i in range(100_000)])
        view.grow(len(buffer))
        await pilot.pause()
        print(f"RSS with {len(buffer):,} log lines buffered: {rss_mib():.0f} MiB")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory(prefix="berth-bench-panels-") as store:
        asyncio.run(bench(store))
