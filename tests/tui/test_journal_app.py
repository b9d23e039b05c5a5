"""The app follows the event journal across rotations made by other processes."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import pytest
from textual.widgets import DataTable

from tui.app import BerthApp

from .test_app import make_fixed_store, settle

REPO = Path(__file__).resolve().parents[2]

ELSEWHERE = """
import sys
from engine import Engine
engine = Engine(sys.argv[1])
engine.store.journal.max_bytes = 4096  # small, so this one command's padding rotates the journal twice
for i in range(80):
    engine.store.journal.append("volume", "create", f"pad{i}", "p" * 40)
engine.image_tag("db:16", "moved:1")
"""


@pytest.fixture(autouse=True)
def no_user_keymap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BERTH_KEYMAP", "")


async def test_the_app_sees_a_change_made_after_two_rotations(engine, store_root: Path) -> None:
    make_fixed_store(engine)
    app = BerthApp(engine)  # watching, as a user's app does
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        table = app.query_one("#images-table", DataTable)
        assert sorted(table.get_row_at(i)[0] for i in range(table.row_count)) == ["db", "web"]
        await asyncio.to_thread(subprocess.run, [sys.executable, "-c", ELSEWHERE, str(store_root)], cwd=REPO,
                                check=True, timeout=60)
        assert (store_root / "events.jsonl.2").exists()  # the offset the app holds is two files back now
        deadline = time.monotonic() + 10
        while "moved" not in [table.get_row_at(i)[0] for i in range(table.row_count)]:
            assert time.monotonic() < deadline, "the app never saw the tag made after the rotations"
            await pilot.pause(0.05)
        await pilot.press("q")
