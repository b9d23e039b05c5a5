#!/usr/bin/env python3
"""Regenerate the README's screenshots: the app on a small, fixed store, saved as SVG, one per panel and dialog.

Run as root from the repository root: ``python3 screenshots/make.py``. The
containers and logs shots run a real busybox container, so their IDs and
times differ from run to run; the other shots are the same every time.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
os.environ["BERTH_KEYMAP"] = ""

from engine import Engine
from tests.tui.test_app import FROZEN_NOW, make_fixed_store
from tui.app import BerthApp

ROOT = "/tmp/berth-screenshot-store"
SIZE = (80, 24)


async def _settle(app: BerthApp, pilot: object, seconds: float = 0.0) -> None:
    from textual.worker import WorkerFailed

    for _ in range(2):
        try:
            await app.workers.wait_for_complete()
        except WorkerFailed:
            pass
        await pilot.pause(seconds or None)  # type: ignore[attr-defined]


async def shoot(app: BerthApp, name: str, keys: tuple[str, ...] = (), wait: float = 0.0) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await _settle(app, pilot)
        for key in keys:
            await pilot.press(key)
            await _settle(app, pilot)
        if wait:
            await _settle(app, pilot, wait)
        app.save_screenshot(filename=f"{name}.svg", path=os.path.join(REPO, "screenshots"))


def frozen(engine: Engine) -> BerthApp:
    return BerthApp(engine, clock=lambda: FROZEN_NOW, watch=False)


def main() -> int:
    from engine.containers.options import CreateOptions

    shutil.rmtree(ROOT, ignore_errors=True)
    try:
        asyncio.run(shoot(frozen(Engine(ROOT)), "empty-store"))
        engine = Engine(ROOT)
        make_fixed_store(engine)
        asyncio.run(shoot(frozen(engine), "images"))
        asyncio.run(shoot(frozen(engine), "history", ("enter", "down")))
        asyncio.run(shoot(frozen(engine), "disk", ("4",)))
        asyncio.run(shoot(frozen(engine), "help", ("question_mark",)))
        asyncio.run(shoot(frozen(engine), "build-dialog", ("n", "ctrl+u", *"/srv/app", "tab", "tab", *"app:1")))
        asyncio.run(shoot(frozen(engine), "run-dialog", ("R", *"web", "tab", *"httpd -f -p 80", "tab", "tab", "tab",
                                                          *"8080:80", "tab", *"64m", "tab", "tab", "space")))
        engine.image_bootstrap("busybox:latest")
        cid = engine.container_create(CreateOptions(
            image="busybox:latest", name="web", network="none",  # a bridge would outlive this scratch store
            cmd=("sh", "-c", "i=0; while true; do echo GET /item/$i 200; i=$((i+1)); sleep 0.02; done")))
        engine.container_start(cid)
        try:
            asyncio.run(shoot(BerthApp(engine, watch=False), "containers", ("3",)))
            asyncio.run(shoot(BerthApp(engine, watch=False), "logs-search",
                              ("3", "l", "slash", *"item/4", "enter"), wait=1.0))
        finally:
            engine.container_remove(cid, force=True)
    finally:
        shutil.rmtree(ROOT, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
