"""Panel 3's actions on a real running container, by their keys: pause, diff, inspect, restart, kill, start,
and panel 5's timestamps and save."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.engine import containers_fixtures
from tests.engine.containers_fixtures import start_d
from tui.app import BerthApp
from tui.screens.confirm import ConfirmScreen
from tui.screens.inspect import InspectScreen
from tui.screens.prompt import PromptScreen

from .test_app import settle

cengine = containers_fixtures.cengine
"""A store with busybox:latest; every container removed afterwards."""

SCRIPT = "trap 'exit 0' TERM; echo hello-from-svc; touch /made-here; while :; do sleep 0.1; done"


@pytest.fixture(autouse=True)
def no_user_keymap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BERTH_KEYMAP", "")


async def _until(app: BerthApp, pilot, check: Callable[[], bool], what: str, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"never: {what}"
        await pilot.pause(0.05)


def _state(engine, cid: str) -> dict:  # type: ignore[no-untyped-def, type-arg]
    return engine.container_inspect(cid)["State"]


async def test_container_actions_by_key(cengine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cid = start_d(cengine, "sh", "-c", SCRIPT, name="svc", network="none")
    app = BerthApp(cengine)  # watching the store, as a user's app does
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("3")
        await settle(app, pilot)
        panel = app.query_one("#containers")
        assert panel.selected().id == cid

        await pilot.press("p")
        await _until(app, pilot, lambda: _state(cengine, cid)["Paused"], "paused")
        await _until(app, pilot, lambda: panel.selected().state == "paused", "the panel shows paused")
        await pilot.press("p")
        await _until(app, pilot, lambda: not _state(cengine, cid)["Paused"], "unpaused")

        await pilot.press("D")
        await _until(app, pilot, lambda: isinstance(app.screen, InspectScreen), "the diff opens")
        assert "A /made-here" in app.screen.data.splitlines()
        await pilot.press("escape")

        await pilot.press("enter")
        await _until(app, pilot, lambda: isinstance(app.screen, InspectScreen), "inspect opens")
        assert app.screen.data["Name"] == "/svc" and app.screen.data["Id"] == cid
        await pilot.press("escape")

        started = _state(cengine, cid)["StartedAt"]
        await pilot.press("R")
        await _until(app, pilot, lambda: _state(cengine, cid)["StartedAt"] != started, "restarted")
        assert _state(cengine, cid)["Running"]

        await pilot.press("K")
        await _until(app, pilot, lambda: isinstance(app.screen, ConfirmScreen), "kill asks first")
        assert _state(cengine, cid)["Running"]  # nothing happens before the answer
        await pilot.press("y")
        await _until(app, pilot, lambda: not _state(cengine, cid)["Running"], "killed")
        assert _state(cengine, cid)["ExitCode"] == 137
        await _until(app, pilot, lambda: panel.selected().state == "exited", "the panel shows it exited")

        await pilot.press("s")
        await _until(app, pilot, lambda: _state(cengine, cid)["Running"], "started again")

        await pilot.press("l")
        view = app.query_one("LogView")
        await _until(app, pilot, lambda: view.measured >= 3, "three runs' greetings in the log")
        await pilot.press("t")
        assert view.timestamps and "timestamps" in str(app.query_one("#logs-status").render())
        await pilot.press("s")
        await _until(app, pilot, lambda: isinstance(app.screen, PromptScreen), "save asks where")
        target = tmp_path / "svc.log"
        app.screen.query_one("#prompt-input").value = str(target)
        await pilot.press("enter")
        await _until(app, pilot, lambda: target.exists() and target.stat().st_size > 0, "the log file written")
        assert target.read_text().count("hello-from-svc\n") >= 3
        await pilot.press("q")


async def test_changes_elsewhere_read_only_the_containers_named(cengine) -> None:  # type: ignore[no-untyped-def]
    """The event journal names the container that changed; the app reads that one record, not the whole list."""
    from tui.messages import ContainersLoaded

    old = [start_d(cengine, "sleep", "100", name=f"old{i}", network="none") for i in range(3)]
    seen: list[object] = []
    app = BerthApp(cengine)
    async with app.run_test(size=(100, 30), message_hook=seen.append) as pilot:
        await settle(app, pilot)
        await pilot.press("3")
        panel = app.query_one("#containers")
        await _until(app, pilot, lambda: len(panel.containers) == 3, "the three containers listed")
        del seen[:]
        new = start_d(cengine, "sleep", "100", name="elsewhere", network="none")  # as another terminal would
        await _until(app, pilot, lambda: any(c.id == new for c in panel.containers), "the new one shows up", 5)
        assert panel.containers[0].id == new  # newest first
        loads = [m for m in seen if isinstance(m, ContainersLoaded)]
        assert loads and all(m.ids is not None and m.ids <= {new} for m in loads), loads
        assert {c.id for c in panel.containers} == {new, *old}
        del seen[:]
        cengine.container_remove(old[1], force=True)
        await _until(app, pilot, lambda: all(c.id != old[1] for c in panel.containers), "the removed one goes", 5)
        loads = [m for m in seen if isinstance(m, ContainersLoaded)]
        assert loads and all(m.ids == {old[1]} and m.containers == () for m in loads), loads
        assert len(panel.containers) == 3


def test_store_changed_messages_coalesce_only_when_the_newer_covers_the_older() -> None:
    from tui.messages import StoreChanged

    a, b = frozenset({"a"}), frozenset({"a", "b"})
    assert StoreChanged(False, True, a).can_replace(StoreChanged(False, True, b))
    assert not StoreChanged(False, True, b).can_replace(StoreChanged(False, True, a))
    assert StoreChanged(False, True, b).can_replace(StoreChanged(False, True, None))
    assert not StoreChanged(False, True, None).can_replace(StoreChanged(False, True, b))
    assert not StoreChanged(True, True).can_replace(StoreChanged(False, True))  # the images reload would be lost
    assert StoreChanged(False, True).can_replace(StoreChanged(True, True))
