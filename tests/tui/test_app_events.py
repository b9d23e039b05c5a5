"""The app's one refresh path: an action calls the engine, then reads the journal for the events it wrote.

Before, every action also posted a whole reload (``refresh_store``: images and every container) on top
of the journal's partial one. These tests fail either way it can go wrong: a whole reload after the
action, or none at all (the view would not change, since the watcher's timer is off).
"""

from __future__ import annotations

import contextlib

import pytest

from engine import BerthError, CreateOptions
from tui.app import BerthApp
from tui.messages import StoreChanged

from .test_app import _rows, settle


@pytest.fixture
def sleeper(engine):  # type: ignore[no-untyped-def]
    """busybox:latest and a running container ``sleeper``; removed afterwards."""
    engine.image_bootstrap("busybox:latest")
    cid = engine.container_create(CreateOptions(image="busybox:latest", name="sleeper", cmd=("sleep", "1d")))
    engine.container_start(cid)
    try:
        yield cid
    finally:
        with contextlib.suppress(BerthError):
            engine.container_remove(cid, force=True)


def _changes(seen: list[object]) -> list[StoreChanged]:
    return [m for m in seen if isinstance(m, StoreChanged)]


async def test_pause_reloads_only_that_container_from_its_event(engine, sleeper) -> None:
    seen: list[object] = []
    app = BerthApp(engine, watch=False)
    async with app.run_test(size=(100, 24), message_hook=seen.append) as pilot:
        await settle(app, pilot)
        await pilot.press("3")
        assert _rows(app, "#containers-table")[0][3].startswith("Up") and "Paused" not in _rows(
            app, "#containers-table")[0][3]
        before = len(seen)
        await pilot.press("p")
        await settle(app, pilot)
        assert "(Paused)" in _rows(app, "#containers-table")[0][3]
        changes = _changes(seen[before:])
        assert changes, "the action's event was never read"
        assert all(not c.images and c.container_ids == frozenset({sleeper}) for c in changes), changes
        await pilot.press("p")  # unpause: the same path back
        await settle(app, pilot)
        assert "Paused" not in _rows(app, "#containers-table")[0][3]


async def test_tag_reloads_the_images_from_the_tag_event_not_everything(engine, sleeper) -> None:
    seen: list[object] = []
    app = BerthApp(engine, watch=False)
    async with app.run_test(size=(100, 24), message_hook=seen.append) as pilot:
        await settle(app, pilot)
        before = len(seen)
        app.run_engine("Tag", lambda: engine.image_tag("busybox:latest", "web:1"))
        await settle(app, pilot)
        assert any(row[0] == "web" for row in _rows(app, "#images-table"))
        changes = _changes(seen[before:])
        assert changes and all(c.images and not c.containers for c in changes), changes
