#!/usr/bin/env python3
"""Regenerate the README's screenshots: the app on a small, fixed store, saved as SVG.

Run as root from the repository root: ``python3 screenshots/make.py``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from engine import Engine  # noqa: E402
from tests.tui.test_app import FROZEN_NOW, make_fixed_store  # noqa: E402
from tui.app import BerthApp  # noqa: E402

ROOT = "/tmp/berth-screenshot-store"


async def shoot(app: BerthApp, name: str, keys: tuple[str, ...] = ()) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        for key in keys:
            await pilot.press(key)
        await app.workers.wait_for_complete()
        await pilot.pause()
        app.save_screenshot(filename=f"{name}.svg", path=os.path.join(REPO, "screenshots"))


def main() -> int:
    shutil.rmtree(ROOT, ignore_errors=True)
    try:
        asyncio.run(shoot(BerthApp(Engine(ROOT), clock=lambda: FROZEN_NOW), "empty-store"))
        engine = Engine(ROOT)
        make_fixed_store(engine)
        asyncio.run(shoot(BerthApp(engine, clock=lambda: FROZEN_NOW), "images"))
    finally:
        shutil.rmtree(ROOT, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
