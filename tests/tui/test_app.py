"""The app driven by Pilot on a real store."""

from __future__ import annotations

import io
import shutil
import json
import sys
import tarfile

import pytest
from textual.widgets import DataTable

from tui.app import BerthApp

FROZEN_NOW = 1_764_300_000.0


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

    layer = engine.layers.register(io.BytesIO(_tiny_layer()), None, archive_name="tiny")
    for name, created in (("web:1.0", "2025-11-14T03:20:00Z"), ("db:16", "2025-11-28T02:40:00Z")):
        config = base_config(created)
        config["architecture"] = "amd64"
        config["rootfs"]["diff_ids"] = [layer.diff_id]
        config["history"] = [{"created": created, "comment": name}]
        engine._importer.commit_config(config, reference.parse(name))


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
    assert snap_compare(BerthApp(snapshot_engine, clock=lambda: FROZEN_NOW), terminal_size=(80, 24))


def test_engine_never_imports_a_ui_library() -> None:
    import subprocess

    code = ("import sys, engine, engine.engine, engine.check, engine.images, engine.importer;"
            "engine.Engine; print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('textual','rich'))))")
    out = subprocess.run([sys.executable, "-c", "import json;" + code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []
