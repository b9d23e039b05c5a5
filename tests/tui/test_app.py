"""The app driven by Pilot on a real store."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import sys
import tarfile

import pytest
from textual.widgets import DataTable

from engine.errors import BerthError
from tui.app import BerthApp

FROZEN_NOW = 1_764_300_000.0


@pytest.fixture(autouse=True)
def no_user_keymap(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's own keymap file never reaches the tests."""
    monkeypatch.setenv("BERTH_KEYMAP", "")


def _tiny_layer() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        info = tarfile.TarInfo("hello")
        data = b"hello, layers\n" * 100
        info.size, info.mtime = len(data), 1_600_000_000
        tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def make_fixed_store(engine) -> None:  # type: ignore[no-untyped-def]
    """Two images with fixed configs, so IDs, ages and sizes are the same on every run."""
    from engine import reference
    from engine.importer import base_config

    layer = engine.store.layers.register(io.BytesIO(_tiny_layer()), None, archive_name="tiny")
    for name, created in (("web:1.0", "2025-11-14T03:20:00Z"), ("db:16", "2025-11-28T02:40:00Z")):
        config = base_config(created)
        config["architecture"] = "amd64"
        config["rootfs"]["diff_ids"] = [layer.diff_id]
        config["history"] = [{"created": created, "comment": name}]
        engine.store.importer.commit_config(config, reference.parse(name))


async def test_images_panel_lists_the_store(engine) -> None:
    make_fixed_store(engine)
    seen = []
    app = BerthApp(engine, clock=lambda: FROZEN_NOW)
    async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        table = app.query_one("#images-table", DataTable)
        rows = [table.get_row_at(i) for i in range(table.row_count)]
        assert [r[0] for r in rows] == ["db", "web"]
        assert rows[0][3] == "40 minutes ago" and rows[1][3] == "2 weeks ago"
        assert rows[0][4] == "1.4kB"
        assert any(type(m).__name__ == "ImagesLoaded" for m in seen)
        await pilot.press("q")
    assert app.return_code in (0, None)


async def test_empty_store_offers_bootstrap_on_one_key(engine) -> None:
    app = BerthApp(engine, clock=lambda: FROZEN_NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.query_one("#images-empty").display
        await pilot.press("b")
        await app.workers.wait_for_complete()
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        table = app.query_one("#images-table", DataTable)
        assert table.row_count == 1 and table.get_row_at(0)[0] == "busybox"
        assert app.focused is table  # the new row has the keys now


async def test_empty_store_panel_keys_work_before_any_image(engine) -> None:
    from tui.screens.build import BuildScreen

    app = BerthApp(engine, clock=lambda: FROZEN_NOW, watch=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert app.query_one("#images-empty").display
        await pilot.press("n")  # the empty-store help says so
        assert isinstance(app.screen, BuildScreen)


SNAPSHOT_ROOT = "/tmp/berth-snapshot-store"  # fixed, because the header shows the store root


@pytest.fixture
def snapshot_engine():  # type: ignore[no-untyped-def]
    from engine import Engine

    shutil.rmtree(SNAPSHOT_ROOT, ignore_errors=True)
    try:
        yield Engine(SNAPSHOT_ROOT)
    finally:
        shutil.rmtree(SNAPSHOT_ROOT, ignore_errors=True)


def test_images_snapshot(snap_compare, snapshot_engine) -> None:
    make_fixed_store(snapshot_engine)
    assert snap_compare(BerthApp(snapshot_engine, clock=lambda: FROZEN_NOW, watch=False), terminal_size=(80, 24))


async def _settled(pilot) -> None:  # type: ignore[no-untyped-def]
    """Until no worker runs after a pause: a worker's message can start the next one (history → layer → tree)."""
    from textual.worker import WorkerFailed, WorkerState

    for _ in range(20):
        try:
            await pilot.app.workers.wait_for_complete()
        except WorkerFailed:
            pass
        await pilot.pause()
        if not any(w.state in (WorkerState.PENDING, WorkerState.RUNNING) for w in pilot.app.workers):
            await pilot.pause()
            if not any(w.state in (WorkerState.PENDING, WorkerState.RUNNING) for w in pilot.app.workers):
                await _tables_measured(pilot)
                return


async def _tables_measured(pilot) -> None:  # type: ignore[no-untyped-def]
    """Until every DataTable has measured its new rows and cells: Textual widens columns on the table's idle,
    which on a loaded machine can come after the frame a snapshot takes (cells cut to the header's width)."""
    from textual.widgets import DataTable

    for _ in range(100):
        pending = [t for t in pilot.app.query(DataTable)
                   if t._require_update_dimensions or t._updated_cells or t._new_rows]
        if not pending:
            return
        await pilot.pause(0.02)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
@pytest.mark.parametrize("keys", [("enter", "down"), ("3",), ("4",), ("question_mark",)],
                         ids=["history", "containers-empty", "disk", "help"])
def test_panel_snapshots(snap_compare, snapshot_engine, keys, size) -> None:
    make_fixed_store(snapshot_engine)

    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await _settled(pilot)
        for key in keys:
            await pilot.press(key)
            await _settled(pilot)

    app = BerthApp(snapshot_engine, clock=lambda: FROZEN_NOW, watch=False)
    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_engine_never_imports_a_ui_library() -> None:
    import subprocess

    code = ("import sys, engine, engine.engine, engine.check, engine.images, engine.importer;"
            "engine.Engine; print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('textual','rich'))))")
    out = subprocess.run([sys.executable, "-c", "import json;" + code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


# -- the five panels, keys, help and palette ---------------------------------------


async def settle(app, pilot) -> None:  # type: ignore[no-untyped-def]
    """Let workers finish and their messages land; a failed worker is the app's to report, not ours."""
    await _settled(pilot)


@contextlib.asynccontextmanager
async def synthetic_logs(engine, size: tuple[int, int] = (80, 24)):  # type: ignore[no-untyped-def]
    """The app on panel 5 with a made-up container's name, for a test to fill the view itself."""
    from tui.widgets.log_view import LogView
    from tui.widgets.logs_panel import LogsPanel

    app = BerthApp(engine, watch=False)
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        await pilot.press("5")
        view, panel = app.query_one(LogView), app.query_one(LogsPanel)
        panel.container_id, panel.container_name = "0" * 64, "synthetic"
        yield app, pilot, view, panel


def _rows(app, selector: str) -> list[tuple[str, ...]]:  # type: ignore[no-untyped-def]
    """The rows of a DataTable or a KeyedTable (the containers panel's), as text."""
    from tui.widgets.keyed_table import KeyedTable

    table = app.screen.query_one(selector) if app.screen.query(selector) else app.query_one(selector)
    assert isinstance(table, DataTable | KeyedTable)
    return [tuple(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)]


def _names(seen: list[object]) -> list[str]:
    return [type(m).__name__ for m in seen]


async def test_number_keys_and_tab_switch_panels(engine) -> None:
    make_fixed_store(engine)
    app = BerthApp(engine, clock=lambda: FROZEN_NOW, watch=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        for key, panel in (("3", "containers"), ("4", "disk"), ("5", "logs"), ("1", "images")):
            await pilot.press(key)
            assert app.current_panel == panel
        await pilot.press("tab")
        assert app.current_panel == "history"
        await pilot.press("shift+tab", "shift+tab")
        assert app.current_panel == "logs"
        await pilot.press("1")
        assert app.focused is app.query_one("#images-table")


async def test_help_lists_every_binding_and_closes(engine) -> None:
    from tui.screens.help import HelpScreen

    app = BerthApp(engine, clock=lambda: FROZEN_NOW, watch=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        ids = {row[3] for row in _rows(app, "#help-table")}
        assert {"app.quit", "images.remove", "history.wasted", "containers.exec", "disk.prune_images",
                "logs.search", "panels.next"} <= ids
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_palette_offers_every_action_with_its_key(engine) -> None:
    from tui.commands import BerthCommands

    make_fixed_store(engine)
    app = BerthApp(engine, clock=lambda: FROZEN_NOW, watch=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        provider = BerthCommands(app.screen)
        hits = [hit async for hit in provider.discover()]
        titles = {str(h.display): h.help for h in hits}
        assert titles["Images: Remove"].startswith("key d")
        assert titles["Containers: Shell"].startswith("key e")
        found = [hit async for hit in provider.search("disk prune images")]
        assert found and "Disk: Prune images" in str(found[0].match_display)
        # Running a hit switches to its panel first, as its key would.
        found[0].command()
        await settle(app, pilot)
        assert app.current_panel == "disk"


async def test_user_keymap_rebinds_by_id(engine, tmp_path, monkeypatch) -> None:
    from tui.config import load_keymap
    from tui.screens.help import HelpScreen

    path = tmp_path / "keymap.toml"
    path.write_text('[keymap]\n"app.help" = "h"\n')
    monkeypatch.setenv("BERTH_KEYMAP", str(path))
    assert load_keymap() == {"app.help": "h"}
    app = BerthApp(engine, clock=lambda: FROZEN_NOW, watch=False, keymap=load_keymap())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("h")
        assert isinstance(app.screen, HelpScreen)
        assert ("Global", "h") in {(r[0], r[1]) for r in _rows(app, "#help-table")}


def test_bad_keymap_file_is_reported(tmp_path) -> None:
    from tui.config import KeymapError, load_keymap

    bad = tmp_path / "keymap.toml"
    bad.write_text("[keymap\n")
    with pytest.raises(KeymapError):
        load_keymap(str(bad))
    assert load_keymap(str(tmp_path / "missing.toml")) == {}


# -- images ------------------------------------------------------------------------


async def test_filter_as_you_type(engine) -> None:
    make_fixed_store(engine)
    app = BerthApp(engine, clock=lambda: FROZEN_NOW, watch=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("slash", "w", "e")
        assert [r[0] for r in _rows(app, "#images-table")] == ["web"]
        await pilot.press("escape")
        assert [r[0] for r in _rows(app, "#images-table")] == ["db", "web"]
        assert app.focused is app.query_one("#images-table")


async def test_tag_then_remove_with_confirmation(engine) -> None:
    from tui.screens.confirm import ConfirmScreen

    make_fixed_store(engine)
    app = BerthApp(engine, clock=lambda: FROZEN_NOW, watch=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("t")
        await pilot.press(*"db:17", "enter")
        await settle(app, pilot)
        assert ("db", "17") in {r[:2] for r in _rows(app, "#images-table")}
        assert engine.image_resolve("db:17") == engine.image_resolve("db:16")
        await pilot.press("d")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await settle(app, pilot)
        assert len(_rows(app, "#images-table")) == 3
        await pilot.press("d", "y")
        await settle(app, pilot)
        assert len(_rows(app, "#images-table")) == 2


async def test_prune_with_nothing_dangling_says_so(engine) -> None:
    make_fixed_store(engine)
    app = BerthApp(engine, clock=lambda: FROZEN_NOW, watch=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("p")
        await settle(app, pilot)
        assert any("No dangling images" in n.message for n in app._notifications)


async def test_prune_shows_what_goes_then_prunes(engine) -> None:
    from tui.screens.confirm import ConfirmScreen

    make_fixed_store(engine)
    engine.image_remove("web:1.0", prune=False)
    engine.image_tag("db:16", "keep:1")
    image_id = engine.image_resolve("db:16")
    # An untagged image: commit one more config without a tag.
    from engine.importer import base_config

    config = base_config("2025-11-01T00:00:00Z")
    config["rootfs"]["diff_ids"] = [engine.image_history("db:16")[0].chain_id]
    dangling = engine.store.importer.commit_config(config, None)
    assert dangling != image_id
    app = BerthApp(engine, clock=lambda: FROZEN_NOW, watch=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("p")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmScreen)
        assert dangling[7:19] in str(app.screen.query_one("#confirm-body").render())
        await pilot.press("y")
        await settle(app, pilot)
        assert all(i.id != dangling for i in engine.image_list(all=True))


async def test_inspect_shows_json(engine) -> None:
    from tui.screens.inspect import InspectScreen

    make_fixed_store(engine)
    app = BerthApp(engine, clock=lambda: FROZEN_NOW, watch=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("i")
        await settle(app, pilot)
        assert isinstance(app.screen, InspectScreen)
        assert app.screen.data["RepoTags"] == ["db:16"]
        await pilot.press("escape")
        assert not isinstance(app.screen, InspectScreen)


# -- layer history -----------------------------------------------------------------


async def test_enter_shows_history_contents_and_efficiency(engine) -> None:
    make_fixed_store(engine)
    seen: list[object] = []
    app = BerthApp(engine, clock=lambda: FROZEN_NOW, watch=False)
    async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.current_panel == "history"
        assert {"HistoryLoaded", "EfficiencyLoaded", "LayerContentsLoaded"} <= set(_names(seen))
        rows = _rows(app, "#history-table")
        assert rows[0][3] == "1.4kB"
        title = str(app.query_one("#history-title").render())
        assert "db:16" in title and "efficiency 100.0%" in title
        tree = app.query_one("#layer-tree")
        assert [str(c.label) for c in tree.root.children] == ["A   1.4kB hello"]


# -- errors --------------------------------------------------------------------------


async def test_engine_errors_notify_and_bugs_open_a_modal(engine) -> None:
    from engine.errors import ImageNotFound
    from tui.screens.error import ErrorScreen

    app = BerthApp(engine, clock=lambda: FROZEN_NOW, watch=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)

        def user_error() -> None:
            raise ImageNotFound("No such image: nope")

        app.run_engine("Remove image", user_error)
        await settle(app, pilot)
        assert any(n.message == "No such image: nope" for n in app._notifications)
        assert not isinstance(app.screen, ErrorScreen)

        def bug() -> None:
            raise KeyError("oops")

        app.run_engine("Tag", bug)
        app.run_engine("Tag again", bug)
        await settle(app, pilot)
        assert isinstance(app.screen, ErrorScreen)
        assert "this is a bug" in app.screen.title_text and "KeyError" in app.screen.details
        assert sum(isinstance(s, ErrorScreen) for s in app.screen_stack) == 1


async def test_quit_asks_while_a_build_runs(engine) -> None:
    import threading

    from tui.screens.confirm import ConfirmScreen

    app = BerthApp(engine, clock=lambda: FROZEN_NOW, watch=False)
    release = threading.Event()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.run_worker(lambda: release.wait(10), thread=True, group="build", description="Building")
        await pilot.press("q")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert app.is_running
        release.set()
        await app.workers.wait_for_complete()
        await pilot.press("q")
        assert not isinstance(app.screen, ConfirmScreen)
    assert app.return_code in (0, None)


# -- build ---------------------------------------------------------------------------


async def test_build_dialog_streams_output_and_tags(engine, tmp_path) -> None:
    from textual.widgets import Input, Log

    from tui.screens.build import BuildScreen

    engine.image_bootstrap("busybox:latest")
    (tmp_path / "Dockerfile").write_text("FROM busybox:latest\nRUN echo built-here > /f\nENV X=1\n")
    seen: list[object] = []
    app = BerthApp(engine, clock=lambda: FROZEN_NOW, watch=False)
    async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
        await settle(app, pilot)
        await pilot.press("n")
        assert isinstance(app.screen, BuildScreen)
        app.screen.query_one("#build-context", Input).value = str(tmp_path)
        app.screen.query_one("#build-tags", Input).value = "built:1"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert "BuildProgress" in _names(seen) and "BuildEnded" in _names(seen)
        text = "\n".join(app.screen.query_one(Log).lines)
        assert "Step 2/3 : RUN echo built-here > /f" in text and "Successfully tagged built:1" in text
        await pilot.press("escape")
        await settle(app, pilot)
        assert ("built", "1") in {r[:2] for r in _rows(app, "#images-table")}


async def test_escape_cancels_a_running_build(engine, tmp_path) -> None:
    from textual.widgets import Input, Log

    from tui.screens.build import BuildScreen

    engine.image_bootstrap("busybox:latest")
    (tmp_path / "Dockerfile").write_text("FROM busybox:latest\nRUN echo started; sleep 30\n")
    app = BerthApp(engine, clock=lambda: FROZEN_NOW, watch=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("n")
        screen = app.screen
        assert isinstance(screen, BuildScreen)
        screen.query_one("#build-context", Input).value = str(tmp_path)
        await pilot.press("ctrl+s")
        for _ in range(200):
            await pilot.pause(0.05)
            if "started" in "\n".join(screen.query_one(Log).lines):
                break
        await pilot.press("escape")
        await settle(app, pilot)
        assert screen.cancel_event is None
        assert "Build stopped" in "\n".join(screen.query_one(Log).lines)
    assert [i for i in engine.image_list() if i.repo_tags != ("busybox:latest",)] == []


# -- containers, logs, disk ----------------------------------------------------------


@pytest.fixture
def running(engine):  # type: ignore[no-untyped-def]
    """busybox:latest and a container ``ticker`` printing a line every 0.1 s; removed afterwards."""
    from engine.containers.options import CreateOptions

    engine.image_bootstrap("busybox:latest")
    cid = engine.container_create(CreateOptions(
        image="busybox:latest", name="ticker",
        cmd=("sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done")))
    engine.container_start(cid)
    try:
        yield cid
    finally:
        with contextlib.suppress(BerthError):  # the test removed it already
            engine.container_remove(cid, force=True)


async def test_containers_panel_stop_and_remove(engine, running) -> None:
    from tui.screens.confirm import ConfirmScreen

    app = BerthApp(engine, watch=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("3")
        rows = _rows(app, "#containers-table")
        assert rows[0][1] == "ticker" and rows[0][3].startswith("Up")
        await pilot.press("x")
        await settle(app, pilot)
        assert _rows(app, "#containers-table")[0][3].startswith("Exited")
        await pilot.press("d")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(app, pilot)
        assert _rows(app, "#containers-table") == []
        assert engine.container_list(all=True) == []


async def test_containers_panel_enter_inspects_once_and_cursor_keeps_its_container(engine) -> None:
    """Made-up summaries, no engine calls: one inspect per Enter; a reload and a tick keep the cursor's container."""
    import dataclasses

    from engine.containers.models import ContainerSummary
    from tui.widgets.containers_panel import ContainersPanel

    def summary(i: int) -> ContainerSummary:
        return ContainerSummary(f"{i:064x}", f"c{i}", "busybox:latest", "sha256:" + "a" * 64, "sleep 1d",
                                FROZEN_NOW - 3600, "running", 0, FROZEN_NOW - 10, 0)

    calls: list[tuple[str, str]] = []
    app = BerthApp(engine, clock=lambda: FROZEN_NOW, watch=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("3")
        app.container_action = lambda action, c: calls.append((action, c.name))  # type: ignore[method-assign]
        panel = app.query_one(ContainersPanel)
        panel.show((summary(1), summary(2), summary(3)), FROZEN_NOW)
        await pilot.pause()
        app._focus_panel("containers")
        await pilot.press("down", "enter")
        assert calls == [("inspect", "c2")]
        renamed = dataclasses.replace(summary(2), name="web")
        panel.show((summary(4), summary(3), renamed), FROZEN_NOW)  # a new one first, c1 gone, c2 renamed
        assert panel.selected() == renamed
        panel.tick(FROZEN_NOW + 5)  # uptimes move; the rest of the row stays as it was
        assert _rows(app, "#containers-table")[2] == (
            "0" * 12, "web", "busybox:latest", "Up 15 seconds", "", "About an hour ago", '"sleep 1d"')
        assert panel.selected() == renamed


async def test_logs_follow_search_and_stay_virtual(engine, running) -> None:
    from tui.widgets.log_view import LogView

    app = BerthApp(engine, watch=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("3", "l")
        assert app.current_panel == "logs"
        view = app.query_one(LogView)
        for _ in range(100):
            await pilot.pause(0.05)
            if view.measured >= 8:
                break
        assert view.buffer.lines[0].log == "tick 0\n"
        assert view.follow
        await pilot.press("slash", *"tick 3", "enter")
        assert view.search == "tick 3" and not view.follow
        assert app.focused is view
        await pilot.press("t")
        assert view.timestamps
        # One frame renders only the rows on screen (the LRU cache may keep older frames' rows, so start empty).
        assert not view.follow  # the search stopped following: new lines do not move the view
        # Once the lines outnumber the rows the scrollbar is there to stay: it narrows the rows only once.
        for _ in range(100):
            if view.measured > view.size.height + 2:
                break
            await pilot.pause(0.1)
        await pilot.pause()
        view._cache.clear()
        view.refresh()
        await pilot.pause()
        assert 0 < len(view._cache) <= view.size.height


async def test_log_view_renders_only_what_is_on_screen(engine) -> None:
    from engine.containers.logs import LogEntry
    from tui.widgets.log_source import LogBuffer
    from tui.widgets.log_view import LogView

    app = BerthApp(engine, watch=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("5")
        view = app.query_one(LogView)
        buffer = LogBuffer(max_lines=50_000)
        buffer.extend([LogEntry("stdout", f"line {i}\n", "2025-11-28T00:00:00Z") for i in range(60_000)])
        assert len(buffer) <= 50_000 and buffer.dropped >= 10_000
        view.reset(buffer)
        view.grow(len(buffer))
        for _ in range(100):  # a loaded machine lays the panel out a few frames later
            await pilot.pause(0.02)
            if view.size.height and view.scroll_offset.y == view.max_scroll_y:
                break
        assert view.virtual_size.height == len(buffer)
        # Rows rendered: the first screen and the last one (it follows the end), never the 50,000.
        assert len(view._cache) <= 2 * view.size.height
        assert view.scroll_offset.y == view.max_scroll_y  # following the end


async def test_disk_panel_rows(engine) -> None:
    make_fixed_store(engine)
    seen: list[object] = []
    app = BerthApp(engine, clock=lambda: FROZEN_NOW, watch=False)
    async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
        await settle(app, pilot)
        await pilot.press("4")
        await settle(app, pilot)
        assert "DiskUsageLoaded" in _names(seen)
        summary = _rows(app, "#disk-summary")
        assert [r[0] for r in summary] == ["Images", "Containers", "Local Volumes", "Build Cache"]
        assert summary[0][1] == "2"
        images = _rows(app, "#disk-images")
        assert {r[0] for r in images} == {"web:1.0", "db:16"}
        assert all(r[2] == "1.4kB" and r[3] == "0B" for r in images)  # one layer, shared by both


async def test_another_terminal_shows_up_within_a_second_or_two(engine) -> None:
    make_fixed_store(engine)
    app = BerthApp(engine, clock=lambda: FROZEN_NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        engine.image_tag("web:1.0", "elsewhere:1")  # as `berth tag` in another terminal would
        for _ in range(60):
            await pilot.pause(0.05)
            if any(r[0] == "elsewhere" for r in _rows(app, "#images-table")):
                break
        assert any(r[0] == "elsewhere" for r in _rows(app, "#images-table"))


def test_size_bar_scales_unique_then_shared() -> None:
    from tui.widgets.disk_panel import size_bar

    assert size_bar(50, 50, 100, width=10) == "█████░░░░░"
    assert size_bar(0, 10, 100, width=10) == "░"
    assert size_bar(0, 0, 0) == ""


async def test_log_search_jumps_with_context_and_wraps(engine) -> None:
    from engine.containers.logs import LogEntry
    from tui.widgets.log_source import LogBuffer

    async with synthetic_logs(engine) as (app, pilot, view, panel):
        buffer = LogBuffer()
        buffer.extend([LogEntry("stdout", f"GET /item/{i} 200\n", "2025-11-28T00:00:00Z") for i in range(300)])
        view.reset(buffer)
        view.grow(len(buffer))
        view.focus()
        await pilot.pause()
        assert view.scroll_offset.y == view.max_scroll_y
        await pilot.press("slash", *"item/4 ", "enter")
        await pilot.pause()
        # Searching from the bottom wraps to the first match; lines before it stay on screen.
        assert view.match == 4 and view.scroll_offset.y == 0 and not view.follow
        await pilot.press("n")
        assert view.match == 40
        await pilot.press("N")
        assert view.match == 4
        assert "at line 5" in str(app.query_one("#logs-status").render())
        await pilot.press("N")
        assert view.match == 49  # wrapped round to the last match


async def test_run_dialog_starts_a_container_and_follows_its_log(engine) -> None:
    from textual.widgets import Input

    from tui.screens.run import RunScreen
    from tui.widgets.log_view import LogView

    engine.image_bootstrap("busybox:latest")
    app = BerthApp(engine, watch=False)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(app, pilot)
            await pilot.press("R")
            assert isinstance(app.screen, RunScreen)
            app.screen.query_one("#run-name", Input).value = "from-dialog"
            app.screen.query_one("#run-command", Input).value = "sh -c 'echo hello from $MODE; sleep 30'"
            app.screen.query_one("#run-env", Input).value = "MODE=dialog"
            app.screen.query_one("#run-memory", Input).value = "64m"
            await pilot.press("ctrl+s")
            await settle(app, pilot)
            assert app.current_panel == "logs"
            view = app.query_one(LogView)
            for _ in range(100):
                await pilot.pause(0.05)
                if view.measured:
                    break
            assert view.buffer.lines[0].log == "hello from dialog\n"
            info = engine.container_inspect("from-dialog")
            assert info["HostConfig"]["Memory"] == 64 << 20
    finally:
        with contextlib.suppress(BerthError):
            engine.container_remove("from-dialog", force=True)


def test_run_options_interactive_ports_and_rm() -> None:
    from tui.screens.run import run_options

    options = run_options("busybox", "it", "sh", "", "", "", "", "127.0.0.1:8080:80 53/udp", interactive=True,
                          remove=True)
    assert (options.tty, options.open_stdin, options.auto_remove) == (True, True, True)
    assert options.publish == ("127.0.0.1:8080:80", "53/udp")
    assert run_options("busybox", "", "", "", "", "", "").tty is False
    with pytest.raises(BerthError):
        run_options("busybox", "", "", "", "", "", "", "99999:80")


async def test_run_dialog_keeps_itself_open_on_a_bad_port(engine) -> None:
    from textual.widgets import Input

    from tui.screens.run import RunScreen

    engine.image_bootstrap("busybox:latest")
    app = BerthApp(engine, watch=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("R")
        app.screen.query_one("#run-ports", Input).value = "http"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, RunScreen)  # still open, with the engine's message
        assert any("http" in str(n.message) for n in app._notifications)
        assert engine.container_list(all=True) == []


def test_run_options_reject_a_bad_cpu_count() -> None:
    from tui.screens.run import run_options

    with pytest.raises(BerthError):
        run_options("busybox", "", "", "", "", "", "lots")
    assert run_options("busybox", "n", "echo 'a b'", "A=1", "/x:/y", "1k", "1.5").cmd == ("echo", "a b")
