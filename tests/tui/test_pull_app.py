"""The pull dialog, driven by Pilot against a real store and the real local registry on 127.0.0.1."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Input, Log

from tests.tui.test_app import make_fixed_store
from tui.app import BerthApp

pytest_plugins = ["tests.engine.registry_plugin"]  # registry, docker_config

FROZEN_NOW = 1_764_300_000.0
OTHERS = {"web:1.0", "db:16"}


@pytest.fixture(autouse=True)
def no_user_keymap(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's own keymap file never reaches the tests."""
    monkeypatch.setenv("BERTH_KEYMAP", "")


def _tags(engine: Any) -> set[str]:
    return {tag for image in engine.image_list() for tag in image.repo_tags}


@pytest.fixture
def pushed(engine: Any, registry: Any, docker_config: Path) -> str:
    """``<registry>/app/bb:1`` in the registry and nowhere in the store (its layer went with its last tag).

    The store keeps two other images (web:1.0, db:16): with none, the images
    panel has no table to focus and its keys do not reach it.
    """
    engine.image_bootstrap("busybox:latest")
    name = f"{registry.host}/app/bb:1"
    engine.image_tag("busybox:latest", name)
    engine.image_push(name)
    engine.image_remove(name)
    engine.image_remove("busybox:latest")
    make_fixed_store(engine)
    assert _tags(engine) == OTHERS
    return name


class Gate:
    """Wraps ``engine.image_pull`` so a pull stops at its first ``Pulling fs layer`` until the test opens the gate.

    The real pull, the real registry: only the progress callback waits.
    """

    def __init__(self, engine: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.reached = threading.Event()
        self.open = threading.Event()
        self.finished = threading.Event()
        self.cancel: threading.Event | None = None
        self.error: BaseException | None = None
        real = engine.image_pull

        def image_pull(name: str, **kwargs: Any) -> Any:
            progress, self.cancel = kwargs.pop("progress"), kwargs.get("cancel")

            def hooked(item: Any) -> None:
                progress(item)
                if item.action == "Pulling fs layer" and not self.reached.is_set():
                    self.reached.set()
                    self.open.wait(20)

            try:
                return real(name, progress=hooked, **kwargs)
            except BaseException as err:
                self.error = err
                raise
            finally:
                self.finished.set()

        monkeypatch.setattr(engine, "image_pull", image_pull)


@pytest.fixture
def gate(engine: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Gate]:
    g = Gate(engine, monkeypatch)
    try:
        yield g
    finally:
        g.open.set()  # never leave the pull's thread waiting past the test
        g.finished.wait(20)


async def settle(app: BerthApp, pilot: Any) -> None:
    """Let workers finish and their messages land; a failed worker is the app's to report.

    (A worker can be cancelled, too: a dialog closing as its pull's thread returns takes the worker with it.)
    """
    from textual.worker import WorkerCancelled, WorkerFailed

    for _ in range(3):
        try:
            await app.workers.wait_for_complete()
        except (WorkerFailed, WorkerCancelled):
            pass
        await pilot.pause()


async def wait_for(pilot: Any, check: Any, seconds: float = 20) -> None:
    for _ in range(int(seconds / 0.05)):
        if check():
            return
        await pilot.pause(0.05)
    raise AssertionError("timed out")


def _log(screen: Any) -> str:
    return "\n".join(screen.query_one("#pull-log", Log).lines)


async def _open_and_pull(app: BerthApp, pilot: Any, name: str) -> Any:
    from tui.screens.pull import PullScreen

    await pilot.press("P")
    screen = app.screen
    assert isinstance(screen, PullScreen)
    screen.query_one("#pull-ref", Input).value = name
    await pilot.press("enter")
    return screen


def _notes(app: BerthApp) -> list[str]:
    return [n.message for n in app._notifications]


async def test_pull_shows_every_layer_and_the_image_appears(engine: Any, pushed: str) -> None:
    from tui.screens.pull import PullScreen

    app = BerthApp(engine, clock=lambda: FROZEN_NOW, watch=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        screen = await _open_and_pull(app, pilot, pushed)
        await wait_for(pilot, lambda: screen.image_id is not None or "failed" in _log(screen))
        await settle(app, pilot)
        text = _log(screen)
        assert text.splitlines()[0] == "1: Pulling from app/bb"
        layers = [line.split(":")[0] for line in text.splitlines()[1:] if line.endswith(": Pull complete")]
        assert len(layers) == 1 and engine.image_history(pushed)  # one row per layer, at its last status
        assert "Digest: sha256:" in text and f"Status: Downloaded newer image for {pushed}" in text
        assert "Done:" in text
        await pilot.press("enter")  # done: Enter closes
        assert not isinstance(app.screen, PullScreen)
        await settle(app, pilot)
        rows = {tuple(str(c) for c in app.query_one("#images-table", DataTable).get_row_at(i))[:2]
                for i in range(app.query_one("#images-table", DataTable).row_count)}
        assert (pushed.rpartition(":")[0], "1") in rows


async def test_progress_draws_bars_and_redraws_at_most_twenty_times_a_second(engine: Any) -> None:
    """Downloading lines carry a bar and bytes in a 100-column dialog; a flood of items from a thread is coalesced."""
    import time

    from engine.distribution import TransferProgress
    from tui.screens.pull import PullScreen

    make_fixed_store(engine)
    app = BerthApp(engine, clock=lambda: FROZEN_NOW, watch=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("P")
        screen = app.screen
        assert isinstance(screen, PullScreen)
        redraws: list[float] = []
        real_redraw = screen._redraw

        def counted() -> None:
            redraws.append(time.monotonic())
            real_redraw()

        screen._redraw = counted  # type: ignore[method-assign]

        def flood() -> None:  # as the engine's download threads would: 2,000 items in about a second
            for done in range(0, 2_000_000, 1000):
                screen.blobs.update(TransferProgress("abcdef012345", "Downloading", done + 1000, 2_000_000))
                screen._ask_redraw()
                time.sleep(0.0005)

        thread = threading.Thread(target=flood)
        thread.start()
        while thread.is_alive():
            await pilot.pause(0.01)
        await pilot.pause(0.2)
        seconds = redraws[-1] - redraws[0]
        assert 2 <= len(redraws) <= seconds * 20 + 2, (len(redraws), seconds)
        assert min(b - a for a, b in itertools.pairwise(redraws)) >= 0.04
        line = _log(screen).splitlines()[0]
        assert line.startswith("abcdef012345: Downloading [") and line.endswith("2MB/2MB"), line
        assert "=" * 40 + ">]" in line  # full: a bar wider than 40 cells, though the terminal is under 110


async def test_escape_cancels_a_pull_and_the_store_is_as_before(engine: Any, pushed: str, gate: Gate) -> None:
    from tui.screens.pull import PullScreen

    app = BerthApp(engine, clock=lambda: FROZEN_NOW, watch=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        screen = await _open_and_pull(app, pilot, pushed)
        await wait_for(pilot, gate.reached.is_set)
        await wait_for(pilot, lambda: "Pulling fs layer" in _log(screen))  # progress shows while it runs
        assert app._group_running("pull")
        await pilot.press("escape")
        assert gate.cancel is not None and gate.cancel.is_set()
        gate.open.set()
        await wait_for(pilot, lambda: not isinstance(app.screen, PullScreen))  # closes once the pull stopped
        await settle(app, pilot)
        assert gate.finished.is_set() and type(gate.error).__name__ == "Cancelled"
        assert any("cancelled" in n for n in _notes(app)) and not any("failed" in n for n in _notes(app))
    assert _tags(engine) == OTHERS and len(engine.image_list(all=True)) == 2
    assert engine.system_check().ok


@pytest.mark.parametrize("bad", ["UPPER/Case::x", "{registry}/no/such:tag"], ids=["bad-reference", "unknown-image"])
async def test_engine_errors_show_in_the_dialog_and_as_a_notification(engine: Any, registry: Any,
                                                                      docker_config: Path, bad: str) -> None:
    from engine.errors import BerthError
    from tui.screens.error import ErrorScreen
    from tui.screens.pull import PullScreen

    name = bad.format(registry=registry.host)
    make_fixed_store(engine)
    with pytest.raises(BerthError) as expected:
        engine.image_pull(name)
    app = BerthApp(engine, clock=lambda: FROZEN_NOW, watch=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        screen = await _open_and_pull(app, pilot, name)
        await wait_for(pilot, lambda: "Pull failed" in _log(screen))
        await settle(app, pilot)
        assert f"Pull failed: {expected.value}" in _log(screen)
        assert str(expected.value) in _notes(app)
        assert "Traceback" not in _log(screen) and not any(isinstance(s, ErrorScreen) for s in app.screen_stack)
        assert app.screen is screen and not screen.query_one("#pull-ref", Input).disabled  # fix it and retry
        await pilot.press("escape")
        assert not isinstance(app.screen, PullScreen)
    assert _tags(engine) == OTHERS


async def test_quit_during_a_pull_asks_first(engine: Any, pushed: str, gate: Gate) -> None:
    from tui.screens.confirm import ConfirmScreen

    app = BerthApp(engine, clock=lambda: FROZEN_NOW, watch=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await _open_and_pull(app, pilot, pushed)
        await wait_for(pilot, gate.reached.is_set)
        await pilot.press("q")
        assert isinstance(app.screen, ConfirmScreen) and "pull is running" in app.screen.title_text
        await pilot.press("n")
        assert app.is_running and not isinstance(app.screen, ConfirmScreen)
        assert gate.cancel is not None and not gate.cancel.is_set()
        await pilot.press("q")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await pilot.pause()
        assert gate.cancel.is_set()  # quitting cancels the pull
    gate.open.set()
    assert gate.finished.wait(20)
    assert _tags(engine) == OTHERS
