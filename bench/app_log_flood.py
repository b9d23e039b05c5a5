#!/usr/bin/env python3
"""Key → screen in the app while a real container logs ~20,000 lines a second (issue #5's latency aim).

    python3 bench/app_log_flood.py [--rate 20000] [--presses 30]

A busybox container on a scratch store prints ``--rate`` lines a second
(``seq`` batches of rate/10 lines, ten times a second) through berth's monitor
into its json-file log; the app (Textual's Pilot, 80×24) follows that log in
panel 5 as a user would (``l`` on panel 3). Each press of ``t`` (timestamps)
is timed from the key event to its handler having run; the frame follows at
the next refresh (≤ 1/60 s). Also reported: the lines per second the app
actually took in, and the process's RSS at the end. Not a test; it never gates CI.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
os.environ["BERTH_KEYMAP"] = ""

from app_panels import rss_mib  # noqa: E402  (this directory is on sys.path when run as a script)
from engine import Engine  # noqa: E402
from engine.containers.options import CreateOptions  # noqa: E402
from tui.app import BerthApp  # noqa: E402


async def bench(engine: Engine, rate: int, presses: int) -> None:
    batch = max(1, rate // 10)
    script = f"while :; do seq 1 {batch} | sed 's/$/ GET \\/item 200 OK/'; usleep 100000; done"
    cid = engine.container_create(CreateOptions(image="busybox:latest", name="flood", network="none",
                                                cmd=("sh", "-c", script)))
    engine.container_start(cid)
    try:
        app = BerthApp(engine, watch=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await app.workers.wait_for_complete()
            await pilot.press("3")
            await app.workers.wait_for_complete()
            await pilot.press("l")
            view = app.query_one("LogView")
            await asyncio.sleep(2.0)  # the follower catches up with what was logged before the panel opened
            start_lines, start = view.buffer.dropped + len(view.buffer), time.perf_counter()
            latencies = []
            for _ in range(presses):
                before = view.timestamps
                pressed = time.perf_counter()
                # Pilot.press waits for the app to go idle, which a flood never allows;
                # post the key as a terminal would.
                app.simulate_key("t")
                deadline = pressed + 5
                while view.timestamps == before and time.perf_counter() < deadline:
                    await asyncio.sleep(0.001)
                if view.timestamps == before:
                    raise SystemExit(f"the key never landed; focus: {app.focused}")
                latencies.append(time.perf_counter() - pressed)
                await asyncio.sleep(0.1)  # spread the presses out
            took = (view.buffer.dropped + len(view.buffer) - start_lines) / (time.perf_counter() - start)
            print(f"key → screen while a container logs {rate:,} lines/s ({took:,.0f} lines/s reached the app): "
                  f"median {statistics.median(latencies) * 1000:.0f} ms, worst {max(latencies) * 1000:.0f} ms, "
                  f"{presses} presses")
            print(f"RSS after {view.buffer.dropped + len(view.buffer):,} lines ({len(view.buffer):,} kept): "
                  f"{rss_mib():.0f} MiB")
            await pilot.press("q")
    finally:
        engine.container_remove(cid, force=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=20_000)
    parser.add_argument("--presses", type=int, default=30)
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix="berth-bench-flood-")
    try:
        engine = Engine(root)
        engine.image_bootstrap("busybox:latest")
        asyncio.run(bench(engine, args.rate, args.presses))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
