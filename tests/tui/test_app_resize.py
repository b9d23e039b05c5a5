"""The app survives terminal resizes, down to smaller than 80×24 and back, on every panel."""

from __future__ import annotations

import pytest

from tui.app import PANELS, BerthApp

from .test_app import make_fixed_store, settle


@pytest.fixture(autouse=True)
def no_user_keymap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BERTH_KEYMAP", "")


async def test_every_panel_survives_resizes(engine) -> None:  # type: ignore[no-untyped-def]
    make_fixed_store(engine)
    app = BerthApp(engine, watch=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        for index, (panel_id, title) in enumerate(PANELS, 1):
            await pilot.press(str(index))
            await settle(app, pilot)
            for size in ((120, 40), (50, 15), (200, 60), (80, 24)):
                await pilot.resize_terminal(*size)
                await pilot.pause()
                assert app.size == size
                assert app.current_panel == panel_id
                # The panel bar and the footer keep their rows at every size; the panel fills the rest.
                panel = app.query_one(f"#{panel_id}")
                assert panel.region.height == size[1] - 3, (title, size, panel.region)
                assert panel.region.width == size[0]
        await pilot.press("1")
        await settle(app, pilot)
        table = app.query_one("#images-table")
        assert sorted(str(table.get_row_at(i)[0]) for i in range(table.row_count)) == ["db", "web"]
