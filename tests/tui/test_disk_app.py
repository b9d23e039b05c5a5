"""Panel 4 beyond the summary: bytes per container and per volume, and the volume prune that previews."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable

from engine.containers.options import CreateOptions
from tests.engine import containers_fixtures
from tui.app import BerthApp

from .test_app import settle

cengine = containers_fixtures.cengine
"""A store with busybox:latest; every container removed afterwards."""


@pytest.fixture(autouse=True)
def no_user_keymap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BERTH_KEYMAP", "")


def _rows(app: BerthApp, selector: str) -> list[tuple[str, ...]]:
    table = app.query_one(selector, DataTable)
    return [tuple(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)]


def _exited(engine, name: str, script: str, volume: str = "") -> str:  # type: ignore[no-untyped-def]
    cid = engine.container_create(CreateOptions(image="busybox:latest", name=name, network="none",
                                                cmd=("sh", "-c", script), binds=(volume,) if volume else ()))
    engine.container_start(cid)
    assert engine.container_wait(cid) == 0
    return cid


async def test_containers_and_volumes_by_size_and_the_volume_prune(cengine) -> None:  # type: ignore[no-untyped-def]
    big = _exited(cengine, "writes-300k", "dd if=/dev/zero of=/big bs=1024 count=300 2>/dev/null")
    _exited(cengine, "writes-nothing", "true")
    _exited(cengine, "fills-volume", "dd if=/dev/zero of=/data/v bs=1024 count=200 2>/dev/null", "keep:/data")
    cengine.volume_create("unused")
    app = BerthApp(cengine, watch=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("4")
        await settle(app, pilot)
        assert app.query_one("#disk-images").display and not app.query_one("#disk-containers").display
        await pilot.press("v")
        assert app.query_one("#disk-containers").display and not app.query_one("#disk-images").display
        assert "writable layer" in str(app.query_one("#disk-note").render())
        rows = _rows(app, "#disk-containers")
        assert [r[1] for r in rows][0] == "writes-300k"  # largest writable layer first
        assert rows[0][0] == big[:12] and rows[0][2].endswith("kB") and rows[0][3].startswith("█" * 20)
        assert {r[1] for r in rows} == {"writes-300k", "writes-nothing", "fills-volume"}
        assert next(r for r in rows if r[1] == "writes-nothing")[2] == "0B"
        await pilot.press("v")
        volumes = {r[0]: r for r in _rows(app, "#disk-volumes")}
        assert volumes["keep"][1] == "1" and volumes["unused"][1] == "0"
        assert volumes["keep"][2].endswith("kB")
        await pilot.press("u")
        await settle(app, pilot)
        body = str(app.screen.query_one("#confirm-body").render())
        assert "unused" in body and "keep" not in body  # the preview lists only what goes
        await pilot.press("y")
        await settle(app, pilot)
        await settle(app, pilot)
        assert [v.name for v in cengine.volume_list()] == ["keep"]
        assert set(_rows(app, "#disk-volumes")[0][:2]) == {"keep", "1"}
        await pilot.press("v")
        assert app.query_one("#disk-images").display
