"""The containers panel's stats view, driven by Pilot on real running containers."""

from __future__ import annotations

import time

import pytest
from textual.widgets import Sparkline, Static

from tests.engine import containers_fixtures
from tests.engine.containers_fixtures import start_d
from tui.app import BerthApp
from tui.widgets.keyed_table import KeyedTable
from tui.widgets.stats import StatsView

MiB = 1024 * 1024

cengine = containers_fixtures.cengine
"""A store with busybox:latest; every container removed afterwards."""


@pytest.fixture(autouse=True)
def no_user_keymap(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's own keymap file never reaches the tests."""
    monkeypatch.setenv("BERTH_KEYMAP", "")


async def _until(pilot, check, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the stats view did not get there in time"
        await pilot.pause(0.1)


def _text(app: BerthApp, selector: str) -> str:
    return str(app.query_one(selector, Static).render())


async def test_stats_view_follows_the_cursor_and_stops_when_hidden(cengine) -> None:  # type: ignore[no-untyped-def]
    # network none: these are made on the test's event loop thread, where pyroute2's sync API cannot run
    burner = start_d(cengine, "sh", "-c", "while :; do :; done", name="burner", memory=64 * MiB, network="none")
    idle = start_d(cengine, "sleep", "100", name="idle", network="none")  # newest: the first row
    seen: list[object] = []
    app = BerthApp(cengine, watch=False)
    async with app.run_test(size=(100, 30), message_hook=seen.append) as pilot:
        await app.workers.wait_for_complete()
        await pilot.press("3")
        await app.workers.wait_for_complete()
        await pilot.pause()
        view = app.query_one(StatsView)
        assert not view.display and not view.running
        await pilot.press("t")
        assert view.display and view.running and view.container_id == idle
        await _until(pilot, lambda: len(view.cpu) >= 1)
        assert "Stats: idle" in _text(app, "#stats-title") and view.cpu[-1] < 20

        await pilot.press("down")  # the view follows the cursor to the burner
        assert app.query_one("#containers-table", KeyedTable).cursor_row == 1
        await _until(pilot, lambda: view.container_id == burner and len(view.cpu) >= 2)
        assert view.cpu[-1] > 20
        assert "/ 64MiB" in _text(app, "#stats-mem-label")
        assert _text(app, "#stats-cpu-label").startswith("CPU ")
        data = list(app.query_one("#stats-cpu", Sparkline).data or [])
        assert data[-len(view.cpu):] == list(view.cpu) and data[-1] > 20  # newest on the right, scale from 0
        assert "PIDS 1" in _text(app, "#stats-other")

        await pilot.press("t")  # hidden: no more samples
        assert not view.display and not view.running
        await app.workers.wait_for_complete()
        await pilot.pause()
        count = sum(isinstance(m, StatsView.Sampled) for m in seen)
        await pilot.pause(2.2)
        assert sum(isinstance(m, StatsView.Sampled) for m in seen) == count

        await pilot.press("t")  # another panel in front: the timer skips, nothing is read
        await pilot.press("1")
        await app.workers.wait_for_complete()
        await pilot.pause()
        count = sum(isinstance(m, StatsView.Sampled) for m in seen)
        await pilot.pause(2.2)
        assert sum(isinstance(m, StatsView.Sampled) for m in seen) == count
        await pilot.press("q")


async def test_stats_binding_has_an_id_in_help_palette_and_keymap(cengine) -> None:  # type: ignore[no-untyped-def]
    start_d(cengine, "sleep", "100", name="idle", network="none")
    app = BerthApp(cengine, watch=False, keymap={"containers.stats": "S"})
    async with app.run_test(size=(100, 30)) as pilot:
        await app.workers.wait_for_complete()
        stats = [a for a in app.bound_actions() if a.binding_id == "containers.stats"]
        assert [(a.section, a.description, a.keys) for a in stats] == [("Containers", "Stats", "S")]
        await pilot.press("3")
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("S")
        view = app.query_one(StatsView)
        assert view.display and view.running
        await _until(pilot, lambda: view.last is not None)
        await pilot.press("q")
